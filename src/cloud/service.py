"""The attendance service: the one facade the API, dashboard and ingest use.

It ties together the attendance store (SQLite or DynamoDB), the evidence store
(local files or S3) and the face recogniser (Rekognition). Methods return
dataclasses from :mod:`cloud.models` and raise :mod:`cloud.errors` exceptions
(NotFound 404, Conflict 409, InvalidInput 422, EnrolmentError 422,
RecognitionUnavailable 503).

Crop policy (see docs/cloud.md):

* Same crop ``msg_id`` twice -> recorded once; the second RESULT repeats the first.
* Classroom not registered -> auto-created (``auto_create_classrooms``) or answered
  ``error``/``unknown_classroom``.
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

import csv
import hashlib
import io
import logging
import threading
import time
import traceback
from datetime import datetime, timezone
from typing import Any, Callable

from common.clock import now_ms
from common.images import ImageDecodeError, decode_image, encode_jpeg, image_kind
from common.logs import log_event
from common.metrics import Metrics
from common.protocol import Header, Message, MessageType, new_id

from .decision import MatchDecision, crop_fingerprint
from .errors import Conflict, InvalidInput, NotFound, RecognitionUnavailable
from .models import (
    ID_PATTERN,
    SESSION_STATUSES,
    UNKNOWN_STATUSES,
    AttendanceRecord,
    Classroom,
    Enrolment,
    RecognitionOutcome,
    Session,
    Sighting,
    Student,
    UnknownFace,
    iso,
)
from .recognition import Recognizer, traced
from .settings import CloudSettings
from .storage.base import AttendanceStore
from .storage.evidence import EvidenceStore, evidence_ref_for

log = logging.getLogger("rollcall.cloud.service")

#: Largest enrolment photo Rekognition accepts as raw bytes.
MAX_PHOTO_BYTES = 5 * 1024 * 1024
HEALTH_CACHE_S = 5.0


def unknown_id_for(msg_id: str) -> str:
    """Stable id of the unknown face produced by crop ``msg_id``."""
    return hashlib.sha256(f"unknown:{msg_id}".encode("utf-8")).hexdigest()[:32]


def parse_time(value: Any, what: str) -> int | None:
    """ISO 8601 text, datetime or epoch ms -> epoch ms. Naive times are UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{what}: not a time")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{what}: {value[:40]!r} is not an ISO 8601 time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    raise InvalidInput(f"{what}: not a time")


def _check_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidInput(f"{kind} must be 1-64 characters of letters, digits, '_', '.', '-' (got {str(value)[:70]!r})")
    return value


def _check_name(kind: str, value: Any, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput(f"{kind} must be non-empty text of at most 200 characters")
    return value.strip()


def _check_email(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 254 or "@" not in value or any(c.isspace() for c in value):
        raise InvalidInput(f"email {str(value)[:60]!r} is not an e-mail address")
    return value


def _csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class AttendanceService:
    """Students, enrolment, classrooms, sessions, attendance, unknown faces and
    the processing of face crops from the edge."""

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
        self.store = store
        self.evidence = evidence
        self.recognizer = recognizer
        self.settings = settings or CloudSettings()
        self.stats = metrics or Metrics()
        self.clock = clock
        self.storage_backend = storage_backend or self.settings.storage
        self.rekognition_endpoint = rekognition_endpoint or self.settings.rekognition_endpoint_url or "aws"
        self._session_lock = threading.Lock()
        self._classroom_lock = threading.Lock()
        self._streams_lock = threading.Lock()
        self._streams: dict[str, dict[str, Any]] = {}
        self._metric_sources: dict[str, Callable[[], dict[str, Any]]] = {}
        self._health_cache: tuple[float, dict[str, Any]] | None = None
        self.decision = MatchDecision(self.settings.confident_similarity, self.settings.min_margin, clock=clock)

    # ================================================================ students
    def create_student(self, student_id: str, name: str, email: str | None = None) -> Student:
        """Register a student (Conflict if the id exists)."""
        student = Student(
            student_id=_check_id("student_id", student_id),
            name=_check_name("name", name) or "",
            email=_check_email(email),
            created_ms=self.clock(),
        )
        self.store.create_student(student)
        log_event(log, "student_created", student_id=student.student_id)
        return student

    def get_student(self, student_id: str) -> Student:
        """The student (NotFound if absent)."""
        student = self.store.get_student(str(student_id))
        if student is None:
            raise NotFound(f"student {str(student_id)[:70]!r} not found")
        return student

    def list_students(self) -> list[Student]:
        """Every student, by id."""
        return sorted(self.store.list_students(), key=lambda s: s.student_id)

    def update_student(self, student_id: str, name: str | None = None, email: str | None = None) -> Student:
        """Change name and/or email (``email=""`` clears it)."""
        student = self.get_student(student_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = _check_name("name", name)
        if email is not None:
            changes["email"] = _check_email(email)
        if not changes:
            return student
        updated = Student(**{**student.to_dict(), **changes})
        self.store.update_student(updated)
        return updated

    def delete_student(self, student_id: str) -> None:
        """Delete the student and their faces (in the collection too). Attendance
        records stay as history. RecognitionUnavailable leaves everything as is."""
        self.get_student(student_id)
        faces = self.store.list_faces(student_id)
        if faces:
            self.recognizer.delete_faces([f.face_id for f in faces])
        for face in faces:
            self.store.delete_face(student_id, face.face_id)
            if face.photo_ref:
                self.evidence.delete(face.photo_ref)
        self.store.delete_student(student_id)
        log_event(log, "student_deleted", student_id=student_id, faces_removed=len(faces))

    def enrol_photo(self, student_id: str, image_bytes: bytes) -> Enrolment:
        """Index the one face of a JPEG/PNG photo for the student.

        EnrolmentError if the photo has no face or several; InvalidInput if it
        is not an image; RecognitionUnavailable if Rekognition cannot be used.
        """
        self.get_student(student_id)
        if not isinstance(image_bytes, (bytes, bytearray)) or not image_bytes:
            raise InvalidInput("the photo is empty")
        if len(image_bytes) > MAX_PHOTO_BYTES:
            raise InvalidInput(f"the photo has {len(image_bytes)} bytes; the limit is {MAX_PHOTO_BYTES}")
        image_bytes = bytes(image_bytes)
        try:
            decoded = decode_image(image_bytes)
        except ImageDecodeError as exc:
            from .errors import EnrolmentError

            raise EnrolmentError(f"the photo is not a readable JPEG/PNG image ({exc})") from None
        kind = image_kind(image_bytes)
        if kind is None:  # decodable but not JPEG/PNG (BMP, ...): Rekognition wants JPEG
            image_bytes, kind = encode_jpeg(decoded, 95), "jpeg"
        face = self.recognizer.index_face(student_id, image_bytes)
        photo_ref = evidence_ref_for(f"enrol:{face.face_id}", kind)
        self.evidence.put(photo_ref, image_bytes)
        enrolment = Enrolment(
            face_id=face.face_id,
            student_id=student_id,
            image_id=face.image_id,
            confidence=face.confidence,
            bounding_box=face.bounding_box,
            photo_ref=photo_ref,
            created_ms=self.clock(),
        )
        self.store.add_face(enrolment)
        self.stats.inc("enrolments")
        log_event(log, "face_enrolled", student_id=student_id, face_id=face.face_id)
        return enrolment

    def list_faces(self, student_id: str) -> list[Enrolment]:
        """The faces enrolled for the student."""
        self.get_student(student_id)
        return sorted(self.store.list_faces(student_id), key=lambda f: f.created_ms)

    def remove_face(self, student_id: str, face_id: str) -> None:
        """Remove one enrolled face (from the collection and the store)."""
        faces = {f.face_id: f for f in self.list_faces(student_id)}
        face = faces.get(face_id)
        if face is None:
            raise NotFound(f"face {str(face_id)[:70]!r} of student {student_id!r} not found")
        self.recognizer.delete_faces([face_id])
        self.store.delete_face(student_id, face_id)
        if face.photo_ref:
            self.evidence.delete(face.photo_ref)
        log_event(log, "face_removed", student_id=student_id, face_id=face_id)

    # ============================================================== classrooms
    def create_classroom(self, classroom_id: str, name: str | None = None) -> Classroom:
        """Register a classroom (Conflict if the id exists)."""
        classroom = Classroom(
            classroom_id=_check_id("classroom_id", classroom_id),
            name=_check_name("name", name) if name is not None else classroom_id,  # type: ignore[arg-type]
            created_ms=self.clock(),
        )
        self.store.create_classroom(classroom)
        return classroom

    def list_classrooms(self) -> list[Classroom]:
        """Every classroom, by id."""
        return sorted(self.store.list_classrooms(), key=lambda c: c.classroom_id)

    def get_classroom(self, classroom_id: str) -> Classroom:
        """The classroom (NotFound if absent)."""
        classroom = self.store.get_classroom(str(classroom_id))
        if classroom is None:
            raise NotFound(f"classroom {str(classroom_id)[:70]!r} not found")
        return classroom

    # ================================================================ sessions
    def open_session(
        self,
        classroom_id: str,
        name: str | None = None,
        starts_at: Any = None,
        ends_at: Any = None,
    ) -> Session:
        """Open a session now, or schedule one (``starts_at``/``ends_at``: ISO 8601,
        datetime or epoch ms; naive = UTC). Conflict if it overlaps another session
        of the classroom (in particular an open one)."""
        self.get_classroom(classroom_id)
        now = self.clock()
        start = parse_time(starts_at, "starts_at")
        end = parse_time(ends_at, "ends_at")
        scheduled = start is not None or end is not None
        start = start if start is not None else now
        if end is not None and end <= start:
            raise InvalidInput("ends_at must be after starts_at")
        if end is not None and end <= now:
            raise InvalidInput("ends_at is in the past")
        if name is not None:
            name = _check_name("name", name)
        with self._session_lock:
            for other in self.store.list_sessions(classroom_id):
                if other.overlaps(start, end):
                    state = other.status_at(now)
                    raise Conflict(
                        f"classroom {classroom_id!r} already has a {state} session {other.session_id} "
                        f"({iso(other.starts_ms)} - {iso(other.end_ms()) or 'open-ended'}) overlapping this one"
                    )
            session = Session(
                session_id=new_id()[:16],
                classroom_id=classroom_id,
                name=name or f"{classroom_id} {iso(start)}",
                created_ms=now,
                starts_ms=start,
                ends_ms=end,
                scheduled=scheduled,
            )
            self.store.create_session(session)
        log_event(log, "session_opened", session_id=session.session_id, classroom_id=classroom_id,
                  starts_ms=start, ends_ms=end, scheduled=scheduled)
        return session.resolved(now)

    def close_session(self, session_id: str) -> Session:
        """Close a session now (a scheduled one not yet started is cancelled).
        Conflict if it is already closed."""
        session = self.get_session(session_id)
        if session.status == "closed":
            raise Conflict(f"session {session_id} is already closed")
        now = self.clock()
        if not self.store.set_session_closed(session_id, now):
            raise Conflict(f"session {session_id} is already closed")
        log_event(log, "session_closed", session_id=session_id, classroom_id=session.classroom_id)
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> Session:
        """The session with its status at this moment (NotFound if absent)."""
        session = self.store.get_session(str(session_id))
        if session is None:
            raise NotFound(f"session {str(session_id)[:70]!r} not found")
        return session.resolved(self.clock())

    def list_sessions(self, classroom_id: str | None = None, status: str | None = None) -> list[Session]:
        """Sessions, newest first, optionally of one classroom and/or status
        (``scheduled``/``open``/``closed``)."""
        if status not in (None, "", *SESSION_STATUSES):
            raise InvalidInput(f"status must be one of {', '.join(SESSION_STATUSES)}")
        now = self.clock()
        sessions = [s.resolved(now) for s in self.store.list_sessions(classroom_id or None)]
        if status:
            sessions = [s for s in sessions if s.status == status]
        return sorted(sessions, key=lambda s: (s.starts_ms, s.created_ms), reverse=True)

    def current_session(self, classroom_id: str) -> Session | None:
        """The session open now in the classroom, or None."""
        now = self.clock()
        open_now = [s.resolved(now) for s in self.store.list_sessions(classroom_id) if s.status_at(now) == "open"]
        if not open_now:
            return None
        return max(open_now, key=lambda s: s.starts_ms)

    # ============================================================== attendance
    def _with_names(self, records: list[AttendanceRecord]) -> list[AttendanceRecord]:
        names: dict[str, str | None] = {}
        out = []
        for record in records:
            if record.student_id not in names:
                student = self.store.get_student(record.student_id)
                names[record.student_id] = student.name if student else None
            out.append(AttendanceRecord(**{**record.to_dict(), "name": names[record.student_id]}))
        return out

    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]:
        """Attendance records of the session, by first seen."""
        self.get_session(session_id)
        records = self.store.attendance_for_session(session_id)
        return sorted(self._with_names(records), key=lambda r: (r.first_seen_ms, r.student_id))

    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]:
        """Every attendance record of the student, newest first."""
        self.get_student(student_id)
        records = self.store.attendance_for_student(student_id)
        return sorted(self._with_names(records), key=lambda r: r.first_seen_ms, reverse=True)

    def export_csv(self, session_id: str) -> str:
        """The session's attendance as CSV text; also stored in the evidence store
        (S3 ``<prefix>exports/`` when configured, else ``<data_dir>/exports``).

        The last two columns, ``first_seen_video_s`` / ``last_seen_video_s``, are the
        first / last sighting as seconds into the camera's video (1 decimal; empty
        when unknown, e.g. live cameras)."""
        session = self.get_session(session_id)
        records = self.attendance_for_session(session_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["session_id", "classroom_id", "session_name", "student_id", "name", "first_seen", "last_seen",
                         "camera_id", "best_similarity", "sightings", "evidence_ref",
                         "first_seen_video_s", "last_seen_video_s"])
        for r in records:
            writer.writerow([_csv_safe(v) for v in (
                session.session_id, session.classroom_id, session.name, r.student_id, r.name or "",
                iso(r.first_seen_ms), iso(r.last_seen_ms), r.camera_id,
                "" if r.best_similarity is None else f"{r.best_similarity:.2f}", r.sightings, r.evidence_ref or "",
                *("" if ms is None else f"{ms / 1000:.1f}" for ms in (r.first_source_ms, r.last_source_ms)),
            )])
        text = buffer.getvalue()
        try:
            where = self.evidence.put_export(f"attendance-{session.session_id}.csv", text)
            log_event(log, "attendance_exported", session_id=session_id, records=len(records), location=where)
        except Exception as exc:  # the export itself is still returned
            self.stats.inc("export_store_errors")
            log_event(log, "export_store_failed", level=logging.ERROR, session_id=session_id, detail=str(exc)[:300])
        return text

    # =========================================================== unknown faces
    def list_unknown_faces(self, status: str | None = "pending") -> list[UnknownFace]:
        """Unknown faces with ``status`` (None/"" = all), newest first."""
        if status not in (None, "", *UNKNOWN_STATUSES):
            raise InvalidInput(f"status must be one of {', '.join(UNKNOWN_STATUSES)}")
        return sorted(self.store.list_unknown(status or None), key=lambda u: u.seen_ms, reverse=True)

    def get_unknown(self, unknown_id: str) -> UnknownFace:
        unknown = self.store.get_unknown(str(unknown_id))
        if unknown is None:
            raise NotFound(f"unknown face {str(unknown_id)[:70]!r} not found")
        return unknown

    def assign_unknown(self, unknown_id: str, student_id: str, enrol: bool = False) -> AttendanceRecord:
        """Say who a pending unknown face is: records attendance for its session
        (and, with ``enrol``, indexes the crop as a face of the student).
        Returns the student's attendance record. Conflict if not pending."""
        unknown = self.get_unknown(unknown_id)
        self.get_student(student_id)
        if unknown.status != "pending":
            raise Conflict(f"unknown face {unknown_id} is already {unknown.status}")
        if unknown.session_id is None:
            raise Conflict(f"unknown face {unknown_id} was seen outside any session")
        if enrol:
            self.enrol_photo(student_id, self.evidence.get(unknown.evidence_ref))
        if not self.store.resolve_unknown(unknown_id, "assigned", student_id, self.clock()):
            raise Conflict(f"unknown face {unknown_id} is no longer pending")
        self.store.record_sighting(Sighting(
            sighting_id=f"assign:{unknown_id}",
            session_id=unknown.session_id,
            student_id=student_id,
            camera_id=unknown.camera_id,
            seen_ms=unknown.seen_ms,
            similarity=None,
            evidence_ref=unknown.evidence_ref,
            trace_id=unknown.trace_id,
        ))
        log_event(log, "unknown_assigned", unknown_id=unknown_id, student_id=student_id,
                  session_id=unknown.session_id, enrolled=enrol, trace_id=unknown.trace_id)
        for record in self.store.attendance_for_session(unknown.session_id):
            if record.student_id == student_id:
                return self._with_names([record])[0]
        raise RuntimeError("attendance record missing right after recording")  # pragma: no cover

    def dismiss_unknown(self, unknown_id: str) -> UnknownFace:
        """Mark a pending unknown face as reviewed-and-ignored."""
        unknown = self.get_unknown(unknown_id)
        if unknown.status != "pending" or not self.store.resolve_unknown(unknown_id, "dismissed", None, self.clock()):
            raise Conflict(f"unknown face {unknown_id} is already {unknown.status}")
        return self.get_unknown(unknown_id)

    def purge_unknown_faces(self) -> int:
        """Delete pending/dismissed unknown faces (and crops) older than the
        retention period. Returns how many were deleted."""
        cutoff = self.clock() - int(self.settings.unknown_retention_days * 86_400_000)
        purged = 0
        for unknown in self.store.list_unknown(None):
            if unknown.status in ("pending", "dismissed") and unknown.seen_ms < cutoff:
                self.evidence.delete(unknown.evidence_ref)
                if self.store.delete_unknown(unknown.unknown_id):
                    purged += 1
        if purged:
            self.stats.inc("unknown_purged", purged)
            log_event(log, "unknown_purged", count=purged, cutoff_ms=cutoff)
        return purged

    def get_evidence(self, ref: str) -> bytes:
        """Bytes of an evidence crop / enrolment photo (NotFound, InvalidInput)."""
        return self.evidence.get(ref)

    # ============================================================ crop ingest
    def note_end_of_stream(self, header: Header) -> None:
        """Remember that a camera's stream ended (shown in metrics)."""
        with self._streams_lock:
            self._streams[header.camera_id] = {
                "classroom_id": header.classroom_id,
                "ended_ms": self.clock(),
                "last_seq": header.seq,
                "trace_id": header.trace_id,
            }
        self.stats.inc("streams_ended")
        log_event(log, "end_of_stream", trace_id=header.trace_id, camera_id=header.camera_id,
                  classroom_id=header.classroom_id, seq=header.seq)

    def _reply(self, crop: Message, outcome: RecognitionOutcome, session_id: str | None, extra: dict[str, Any] | None = None) -> Message:
        meta: dict[str, Any] = {
            "ack_of": crop.header.msg_id,
            "track_id": crop.header.meta.get("track_id"),
            "status": outcome.status,
            "student_id": outcome.student_id if outcome.status == "recognised" else None,
            "similarity": None if outcome.similarity is None else round(float(outcome.similarity), 3),
            "session_id": session_id,
        }
        if outcome.runner_up_similarity is not None:
            meta["runner_up_similarity"] = round(float(outcome.runner_up_similarity), 3)
        if outcome.candidate_id:
            meta["candidate_id"] = outcome.candidate_id
        if outcome.reason:
            meta["reason"] = outcome.reason
        if extra:
            meta.update(extra)
        self.stats.inc(f"results_{outcome.status}")
        log_event(log, "recognition_result", level=logging.WARNING if outcome.status == "error" else logging.INFO,
                  trace_id=crop.header.trace_id, msg_id=crop.header.msg_id, camera_id=crop.header.camera_id,
                  classroom_id=crop.header.classroom_id, status=outcome.status, student_id=meta["student_id"],
                  similarity=meta["similarity"], runner_up_similarity=meta.get("runner_up_similarity"),
                  candidate_id=outcome.candidate_id, reason=outcome.reason, detail=outcome.detail,
                  session_id=session_id, attempts=outcome.attempts, track_id=meta["track_id"])
        return Message(header=crop.header.derive(MessageType.RESULT, meta=meta))

    def reject_crop(self, crop: Message, reason: str, detail: str) -> Message:
        """An ``error`` RESULT for a crop that is not processed (counted by reason)."""
        return self._reject(crop, reason, detail)

    def _reject(self, crop: Message, reason: str, detail: str) -> Message:
        self.stats.inc(f"crops_rejected_{reason}")
        return self._reply(crop, RecognitionOutcome(status="error", reason=reason, detail=detail), None)

    def _classroom_for(self, classroom_id: str) -> Classroom | None:
        classroom = self.store.get_classroom(classroom_id)
        if classroom is not None or not self.settings.auto_create_classrooms or not ID_PATTERN.match(classroom_id):
            return classroom
        with self._classroom_lock:
            classroom = self.store.get_classroom(classroom_id)
            if classroom is None:
                classroom = Classroom(classroom_id=classroom_id, name=classroom_id, created_ms=self.clock(), auto_created=True)
                try:
                    self.store.create_classroom(classroom)
                    self.stats.inc("classrooms_auto_created")
                    log_event(log, "classroom_auto_created", classroom_id=classroom_id)
                except Conflict:
                    classroom = self.store.get_classroom(classroom_id)
        return classroom

    def _session_for(self, classroom_id: str) -> Session | None:
        session = self.current_session(classroom_id)
        if session is not None or not self.settings.auto_open_session:
            return session
        with self._session_lock:
            session = self.current_session(classroom_id)
            if session is None:
                now = self.clock()
                session = Session(session_id=new_id()[:16], classroom_id=classroom_id,
                                  name=f"{classroom_id} {iso(now)} (auto)", created_ms=now, starts_ms=now)
                self.store.create_session(session)
                self.stats.inc("sessions_auto_opened")
                log_event(log, "session_opened", session_id=session.session_id, classroom_id=classroom_id, auto=True)
        return session.resolved(self.clock())

    def _duplicate_reply(self, crop: Message) -> Message | None:
        msg_id = crop.header.msg_id
        sighting = self.store.get_sighting(msg_id)
        if sighting is not None:
            outcome = RecognitionOutcome(status="recognised", student_id=sighting.student_id, similarity=sighting.similarity)
            return self._reply(crop, outcome, sighting.session_id, {"duplicate": True})
        unknown = self.store.get_unknown(unknown_id_for(msg_id))
        if unknown is not None:
            outcome = RecognitionOutcome(status="unknown", reason=unknown.reason)
            return self._reply(crop, outcome, unknown.session_id, {"duplicate": True})
        return None

    def process_crop(self, message: Message) -> Message:
        """Recognise one FACE_CROP and record it; return the RESULT for the edge.
        Never raises for bad input: problems become ``error`` results, counted."""
        header = message.header
        if "cloud_received" not in header.ts:
            header.stamp("cloud_received", self.clock())
        self.stats.inc("crops_received")
        if "edge_sent" in header.ts:
            self.stats.observe("latency_edge_to_cloud_ms", header.ts["cloud_received"] - header.ts["edge_sent"])
        try:
            return self._process_crop(message)
        except Exception as exc:  # storage down etc.: fail closed, keep serving
            self.stats.inc("crops_failed_internal")
            log_event(log, "crop_processing_failed", level=logging.ERROR, trace_id=header.trace_id,
                      msg_id=header.msg_id, detail=f"{type(exc).__name__}: {str(exc)[:300]}", traceback=traceback.format_exc(limit=8))
            return self._reply(message, RecognitionOutcome(status="error", reason="internal", detail=type(exc).__name__), None)

    def _process_crop(self, message: Message) -> Message:
        header = message.header
        if header.type is not MessageType.FACE_CROP:
            return self._reject(message, "wrong_type", f"expected face_crop, got {header.type.value}")
        image = message.image
        if not image:
            return self._reject(message, "no_image", "face crop without image payload")
        if len(image) > self.settings.max_crop_bytes:
            return self._reject(message, "oversize", f"{len(image)} bytes > {self.settings.max_crop_bytes}")
        try:
            pixels = decode_image(image)
        except ImageDecodeError as exc:
            return self._reject(message, "corrupt_image", str(exc))

        duplicate = self._duplicate_reply(message)
        if duplicate is not None:
            self.stats.inc("crops_duplicate")
            return duplicate

        classroom = self._classroom_for(header.classroom_id)
        if classroom is None:
            return self._reject(message, "unknown_classroom", f"classroom {header.classroom_id!r} is not registered")
        session = self._session_for(classroom.classroom_id)
        if session is None:
            self.stats.inc("crops_no_open_session")
            outcome = RecognitionOutcome(status="unknown", reason="no_open_session", attempts=0)
            return self._reply(message, outcome, None)

        if header.meta.get("purpose") == "evidence":
            # A face the edge found too small to recognise: kept for review, never searched.
            self.stats.inc("evidence_crops")
            return self._record_unknown(message, RecognitionOutcome(status="unknown", reason="too_small", attempts=0),
                                        session, header.image.encoding if header.image else "jpeg")

        started = time.perf_counter()
        with traced(header.trace_id):
            outcome = self.recognizer.search(image)
        header.stamp("recognised", self.clock())
        self.stats.observe("recognition_ms", (time.perf_counter() - started) * 1000)

        if outcome.status == "recognised" and self.store.get_student(outcome.student_id or "") is None:
            # The collection knows a face whose student was deleted: never record it.
            self.stats.inc("matches_stale_student")
            outcome = RecognitionOutcome(status="unknown", reason="stale_face", similarity=outcome.similarity,
                                         detail=f"face of deleted student {outcome.student_id}", attempts=outcome.attempts)

        track_id = header.meta.get("track_id")
        key = (session.session_id, header.camera_id, track_id) if isinstance(track_id, int) else None
        decided = self.decision.decide(key, outcome, crop_fingerprint(pixels))
        if decided.reason in ("unconfirmed", "confirmed"):
            self.stats.inc(f"matches_{decided.reason}")
        outcome = decided

        encoding = header.image.encoding if header.image else "jpeg"
        if outcome.status == "recognised":
            return self._record_recognised(message, outcome, session, encoding)
        if outcome.status == "unknown":
            return self._record_unknown(message, outcome, session, encoding)
        return self._reply(message, outcome, session.session_id)

    def _record_recognised(self, message: Message, outcome: RecognitionOutcome, session: Session, encoding: str) -> Message:
        header = message.header
        emotion = self.recognizer.detect_emotion(message.image or b"") if self.settings.detect_emotions else None
        ref = evidence_ref_for(f"crop:{header.msg_id}", encoding)
        self.evidence.put(ref, message.image or b"")
        seen = header.ts.get("captured", header.ts["cloud_received"])
        # meta.camera_ms is the camera's own timeline: ms into the file for a replayed
        # video, epoch ms for a live camera. Keep it only when it is plausibly a video
        # position (an int in [0, 10**11), i.e. under ~3 years); epoch times are dropped.
        camera_ms = header.meta.get("camera_ms")
        source_ms = camera_ms if isinstance(camera_ms, int) and not isinstance(camera_ms, bool) \
            and 0 <= camera_ms < 10**11 else None
        sighting = Sighting(
            sighting_id=header.msg_id,
            session_id=session.session_id,
            student_id=outcome.student_id or "",
            camera_id=header.camera_id,
            seen_ms=seen,
            similarity=outcome.similarity,
            evidence_ref=ref,
            emotion=emotion,
            trace_id=header.trace_id,
            face_id=outcome.face_id,
            source_ms=source_ms,
        )
        new = self.store.record_sighting(sighting)
        header.stamp("recorded", self.clock())
        if not new:
            self.stats.inc("crops_duplicate")
            return self._reply(message, outcome, session.session_id, {"duplicate": True})
        self.stats.inc("attendance_recorded")
        self._observe_pipeline(header)
        log_event(log, "attendance_recorded", trace_id=header.trace_id, msg_id=header.msg_id,
                  session_id=session.session_id, classroom_id=header.classroom_id, camera_id=header.camera_id,
                  student_id=outcome.student_id, similarity=outcome.similarity, emotion=emotion,
                  evidence_ref=ref, ts=dict(header.ts))
        return self._reply(message, outcome, session.session_id)

    def _record_unknown(self, message: Message, outcome: RecognitionOutcome, session: Session, encoding: str) -> Message:
        header = message.header
        unknown_id = unknown_id_for(header.msg_id)
        ref = evidence_ref_for(f"crop:{header.msg_id}", encoding)
        self.evidence.put(ref, message.image or b"")
        unknown = UnknownFace(
            unknown_id=unknown_id,
            session_id=session.session_id,
            classroom_id=header.classroom_id,
            camera_id=header.camera_id,
            seen_ms=header.ts.get("captured", header.ts["cloud_received"]),
            evidence_ref=ref,
            trace_id=header.trace_id,
            msg_id=header.msg_id,
            reason=outcome.reason or "no_match",
        )
        new = self.store.add_unknown(unknown)
        header.stamp("recorded", self.clock())
        if new:
            self.stats.inc("unknown_stored")
            self._observe_pipeline(header)
            log_event(log, "unknown_face_stored", trace_id=header.trace_id, msg_id=header.msg_id, unknown_id=unknown_id,
                      session_id=session.session_id, camera_id=header.camera_id, ts=dict(header.ts))
        else:
            self.stats.inc("crops_duplicate")
        return self._reply(message, outcome, session.session_id, {"unknown_id": unknown_id, **({} if new else {"duplicate": True})})

    def _observe_pipeline(self, header: Header) -> None:
        ts = header.ts
        if "captured" in ts and "recorded" in ts:
            self.stats.observe("latency_captured_to_recorded_ms", ts["recorded"] - ts["captured"])
        if "cloud_received" in ts and "recorded" in ts:
            self.stats.observe("latency_cloud_ms", ts["recorded"] - ts["cloud_received"])

    # ========================================================= metrics/health
    def add_metrics_source(self, name: str, source: Callable[[], dict[str, Any]]) -> None:
        """Include ``source()`` under ``name`` in :meth:`metrics` (used by ingest)."""
        self._metric_sources[name] = source

    def metrics(self) -> dict[str, Any]:
        """Counters, latencies, ended streams and ingest figures."""
        snapshot = self.stats.snapshot()
        with self._streams_lock:
            snapshot["streams_ended"] = {k: dict(v) for k, v in self._streams.items()}
        for name, source in list(self._metric_sources.items()):
            try:
                snapshot[name] = source()
            except Exception as exc:  # a broken source must not break /api/metrics
                snapshot[name] = {"error": str(exc)[:200]}
        return snapshot

    def health(self) -> dict[str, Any]:
        """Storage, evidence store and Rekognition reachability (Rekognition
        result cached for a few seconds)."""
        checks: dict[str, Any] = {}
        try:
            self.store.ping()
            checks["storage"] = {"ok": True, "backend": self.storage_backend}
        except Exception as exc:
            checks["storage"] = {"ok": False, "backend": self.storage_backend, "detail": str(exc)[:200]}
        try:
            self.evidence.ping()
            checks["evidence"] = {"ok": True}
        except Exception as exc:
            checks["evidence"] = {"ok": False, "detail": str(exc)[:200]}
        cached = self._health_cache
        if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_S:
            checks["rekognition"] = cached[1]
        else:
            try:
                info = self.recognizer.describe_collection()
                rek = {"ok": True, "collection_id": self.recognizer.collection_id, "face_count": info.get("FaceCount")}
            except RecognitionUnavailable as exc:
                rek = {"ok": False, "collection_id": self.recognizer.collection_id, "detail": exc.message}
            rek["endpoint"] = self.rekognition_endpoint
            self._health_cache = (time.monotonic(), rek)
            checks["rekognition"] = rek
        checks["status"] = "ok" if all(c["ok"] for c in checks.values() if isinstance(c, dict)) else "degraded"
        return checks
