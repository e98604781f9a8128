"""The attendance service: the one facade the API, dashboard and ingest use.

It delegates to collaborators that share one :class:`cloud.deps.ServiceDeps`:
:class:`cloud.roster.Roster` (students, enrolment), :class:`cloud.sessions.Sessions`
(classrooms, sessions, overlap rule), :class:`cloud.attendance.Attendance` (records, CSV),
:class:`cloud.review.UnknownReview` (unknown faces, retention purge),
:class:`cloud.privacy.Privacy` (retention of every crop, student erasure, audit log),
:class:`cloud.crops.CropProcessor` (the crop path) and :class:`cloud.health.ServiceMonitor`
(metrics, health). Teacher workflows: :class:`cloud.courses.Courses` (courses, rosters),
:class:`cloud.roster_import.RosterImport`, :class:`cloud.attendance_states.AttendanceRoll` (states,
marks), :class:`cloud.timetable.Timetable` and :class:`cloud.reports.Reports`. Nothing here imports boto3:
the recognizer is a :class:`cloud.ports.Recognizer`.

It ties together the attendance store (SQLite or DynamoDB), the evidence store
(local files or S3) and the face recognizer (Rekognition). Methods return
dataclasses from :mod:`cloud.records` and raise :mod:`cloud.errors` exceptions
(NotFound 404, Conflict 409, InvalidInput 422, EnrolmentError 422,
RecognitionUnavailable 503).

Crop policy (see docs/cloud.md):

* Same crop ``msg_id`` twice -> recorded once; the second RESULT repeats the first.
* Classroom not registered -> answered ``error``/``unknown_classroom`` (permanent), nothing
  created; auto-created only with ``auto_create_classrooms`` (off by default).
* Seen times are the cloud's receive time clamped to the session, never the header's claims.
* No open session in the classroom -> the crop is *not* sent to Rekognition nor
  stored (no biometric processing outside class time, no cost); the RESULT is
  ``unknown`` with ``reason: no_open_session`` and ``session_id: null``; counted.
  ``auto_open_session`` opens a session instead (demo mode).
* ``meta.purpose == "evidence"`` (a face the edge found too small to recognise) -> stored as an
  unknown face with reason ``too_small``, never searched.
* A match that is not confident needs the track's attempts to agree (:mod:`cloud.decision`).
* Recognised -> attendance record (first/last seen, best similarity + its crop,
  sightings). No match -> unknown face kept for review. No face -> counted only.
  Any recognition error fails closed (``error``), counted, nothing recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.clock import now_ms
from common.metrics import Metrics
from common.protocol import Header, Message

from .attendance import Attendance
from .courses import Courses
from .crops import CropProcessor, unknown_id_for
from .decision import MatchDecision
from .deps import ServiceDeps
from .health import HEALTH_CACHE_S, ServiceMonitor
from .inputs import parse_time
from .ports import Recognizer
from .privacy import Privacy
from .records import AttendanceRecord, Classroom, Enrolment, Session, Student, UnknownFace
from .reports import Reports
from .review import UnknownReview
from .roster import MAX_PHOTO_BYTES, Roster
from .roster_import import RosterImport
from .sessions import Sessions
from .settings import CloudSettings
from .storage.base import AttendanceStore
from .storage.evidence import EvidenceStore
from .timetable import Timetable

__all__ = ["AttendanceService", "HEALTH_CACHE_S", "MAX_PHOTO_BYTES", "parse_time", "unknown_id_for"]


class AttendanceService:
    """Students, enrolment, classrooms, sessions, attendance, unknown faces and
    the processing of face crops from the edge (a facade over the collaborators)."""

    def __init__(
        self,
        store: AttendanceStore,
        evidence: EvidenceStore,
        recognizer: Recognizer,
        settings: CloudSettings | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], int] = now_ms,
        storage_backend: str = "",
        rekognition_endpoint: str = "",
    ) -> None:
        settings = settings or CloudSettings()
        self.deps = ServiceDeps(
            store=store,
            evidence=evidence,
            recognizer=recognizer,
            settings=settings,
            stats=metrics or Metrics(),
            clock=clock,
        )
        self.roster = Roster(self.deps)
        self.sessions = Sessions(self.deps)
        self.attendance = Attendance(self.deps, self.roster, self.sessions)
        # teacher workflows (the API and dashboard use these collaborators directly)
        self.courses = Courses(self.deps, self.roster, self.sessions)
        self.roll = self.attendance.roll
        self.roster_import = RosterImport(self.deps, self.courses)
        self.timetable = Timetable(self.deps, self.courses, self.sessions)
        self.reports = Reports(self.deps, self.courses, self.roll)
        self.review = UnknownReview(self.deps, self.roster, self.attendance)
        self.privacy = Privacy(self.deps, self.roster)
        self.crops = CropProcessor(self.deps, self.sessions)
        self.monitor = ServiceMonitor(
            self.deps,
            storage_backend or settings.storage,
            rekognition_endpoint or settings.rekognition_endpoint_url or "aws",
        )

    # ======================================================= shared dependencies
    # Assigning one of these (e.g. ``service.recognizer = wrapper``) reaches every collaborator.
    @property
    def store(self) -> AttendanceStore:
        """The attendance store."""
        return self.deps.store

    @store.setter
    def store(self, value: AttendanceStore) -> None:
        self.deps.store = value

    @property
    def evidence(self) -> EvidenceStore:
        """The evidence store (crops, enrolment photos, exports)."""
        return self.deps.evidence

    @evidence.setter
    def evidence(self, value: EvidenceStore) -> None:
        self.deps.evidence = value

    @property
    def recognizer(self) -> Recognizer:
        """The face recognizer (Rekognition in production)."""
        return self.deps.recognizer

    @recognizer.setter
    def recognizer(self, value: Recognizer) -> None:
        self.deps.recognizer = value

    @property
    def settings(self) -> CloudSettings:
        """The cloud settings."""
        return self.deps.settings

    @settings.setter
    def settings(self, value: CloudSettings) -> None:
        self.deps.settings = value

    @property
    def stats(self) -> Metrics:
        """The metrics registry (counters, timings)."""
        return self.deps.stats

    @property
    def clock(self) -> Callable[[], int]:
        """The clock (epoch ms)."""
        return self.deps.clock

    @property
    def decision(self) -> MatchDecision:
        """The per-track decision rule of the crop path."""
        return self.crops.decision

    @property
    def storage_backend(self) -> str:
        """Name of the storage backend shown in health."""
        return self.monitor.storage_backend

    @property
    def rekognition_endpoint(self) -> str:
        """Rekognition endpoint shown in health."""
        return self.monitor.rekognition_endpoint

    # ================================================================ students
    def create_student(self, student_id: str, name: str, email: str | None = None) -> Student:
        """Register a student (Conflict if the id exists)."""
        return self.roster.create_student(student_id, name, email)

    def get_student(self, student_id: str) -> Student:
        """The student (NotFound if absent)."""
        return self.roster.get_student(student_id)

    def list_students(self) -> list[Student]:
        """Every student, by id."""
        return self.roster.list_students()

    def update_student(self, student_id: str, name: str | None = None, email: str | None = None) -> Student:
        """Change name and/or email (``email=""`` clears it)."""
        return self.roster.update_student(student_id, name, email)

    def delete_student(self, student_id: str, actor: str = "api", peer: str | None = None) -> dict[str, Any]:
        """Erase the student: faces (collection + enrolment photos) and every crop of them, audited;
        attendance rows stay under the student id (docs/cloud.md "Privacy"). Returns the counts."""
        erased = self.privacy.erase_student(student_id, actor, peer)
        if self.crops.faces is not None:
            self.crops.faces.forget_student(student_id)  # their kept session faces too
        return erased

    def enrol_photo(self, student_id: str, image_bytes: bytes) -> Enrolment:
        """Index the one face of a JPEG/PNG photo for the student."""
        enrolment = self.roster.enrol_photo(student_id, image_bytes)
        self._new_face_enrolled()
        return enrolment

    def _new_face_enrolled(self) -> None:
        """A kept stranger may be the newly enrolled face: search every face again."""
        if self.crops.faces is not None:
            self.crops.faces.forget_strangers()

    def list_faces(self, student_id: str) -> list[Enrolment]:
        """The faces enrolled for the student."""
        return self.roster.list_faces(student_id)

    def remove_face(self, student_id: str, face_id: str) -> None:
        """Remove one enrolled face (from the collection and the store)."""
        self.roster.remove_face(student_id, face_id)

    # ============================================================== classrooms
    def create_classroom(self, classroom_id: str, name: str | None = None) -> Classroom:
        """Register a classroom (Conflict if the id exists)."""
        return self.sessions.create_classroom(classroom_id, name)

    def list_classrooms(self) -> list[Classroom]:
        """Every classroom, by id."""
        return self.sessions.list_classrooms()

    def get_classroom(self, classroom_id: str) -> Classroom:
        """The classroom (NotFound if absent)."""
        return self.sessions.get_classroom(classroom_id)

    # ================================================================ sessions
    def open_session(
        self, classroom_id: str, name: str | None = None, starts_at: Any = None, ends_at: Any = None
    ) -> Session:
        """Open a session now, or schedule one; Conflict if it overlaps another."""
        return self.sessions.open_session(classroom_id, name, starts_at, ends_at)

    def close_session(self, session_id: str) -> Session:
        """Close (or cancel) a session; Conflict if already closed."""
        return self.sessions.close_session(session_id)

    def get_session(self, session_id: str) -> Session:
        """The session with its status at this moment (NotFound if absent)."""
        return self.sessions.get_session(session_id)

    def list_sessions(self, classroom_id: str | None = None, status: str | None = None) -> list[Session]:
        """Sessions, newest first, optionally of one classroom and/or status."""
        return self.sessions.list_sessions(classroom_id, status)

    def current_session(self, classroom_id: str) -> Session | None:
        """The session open now in the classroom, or None."""
        return self.sessions.current_session(classroom_id)

    # ============================================================== attendance
    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]:
        """Attendance records of the session, by first seen."""
        return self.attendance.attendance_for_session(session_id)

    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]:
        """Every attendance record of the student, newest first."""
        return self.attendance.attendance_for_student(student_id)

    def export_csv(self, session_id: str) -> str:
        """The session's attendance as CSV text (also stored in the evidence store)."""
        return self.attendance.export_csv(session_id)

    # =========================================================== unknown faces
    def list_unknown_faces(self, status: str | None = "pending") -> list[UnknownFace]:
        """Unknown faces with ``status`` (None/"" = all), newest first."""
        return self.review.list_unknown_faces(status)

    def get_unknown(self, unknown_id: str) -> UnknownFace:
        """The unknown face (NotFound if absent)."""
        return self.review.get_unknown(unknown_id)

    def assign_unknown(self, unknown_id: str, student_id: str, enrol: bool = False) -> AttendanceRecord:
        """Record a pending unknown face as the student (optionally enrolling the crop)."""
        record = self.review.assign_unknown(unknown_id, student_id, enrol)
        if enrol:
            self._new_face_enrolled()
        return record

    def dismiss_unknown(self, unknown_id: str) -> UnknownFace:
        """Mark a pending unknown face as reviewed-and-ignored."""
        return self.review.dismiss_unknown(unknown_id)

    def purge_unknown_faces(self) -> int:
        """Delete pending/dismissed unknown faces older than the retention period."""
        return self.review.purge_unknown_faces()

    def purge_crops(self) -> dict[str, int]:
        """Delete recognised and assigned crops older than ``crop_retention_days`` (records stay)."""
        return self.privacy.purge_crops()

    def get_evidence(self, ref: str) -> bytes:
        """Bytes of an evidence crop / enrolment photo (NotFound, InvalidInput)."""
        return self.deps.evidence.get(ref)

    # ============================================================ crop ingest
    def process_crop(self, message: Message) -> Message:
        """Recognise one FACE_CROP and record it; return the RESULT for the edge (never raises)."""
        return self.crops.process_crop(message)

    def reject_crop(self, crop: Message, reason: str, detail: str) -> Message:
        """An ``error`` RESULT for a crop that is not processed (counted by reason)."""
        return self.crops.reject_crop(crop, reason, detail)

    def note_end_of_stream(self, header: Header) -> None:
        """Remember that a camera's stream ended (shown in metrics)."""
        self.monitor.note_end_of_stream(header)

    # ========================================================= metrics/health
    def add_metrics_source(self, name: str, source: Callable[[], dict[str, Any]]) -> None:
        """Include ``source()`` under ``name`` in :meth:`metrics` (used by ingest)."""
        self.monitor.add_metrics_source(name, source)

    def metrics(self) -> dict[str, Any]:
        """Counters, latencies, ended streams and ingest figures."""
        return self.monitor.metrics()

    def health(self) -> dict[str, Any]:
        """Storage, evidence store and Rekognition reachability."""
        return self.monitor.health()
