"""The one storage interface every attendance backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..records import AttendanceRecord, Classroom, Enrolment, Session, Sighting, Student, UnknownFace
from .teacher_base import TeacherStore


class AttendanceStore(TeacherStore, ABC):
    """Students, faces, classrooms, sessions, attendance and unknown faces (and, from
    :class:`TeacherStore`, courses, rosters, timetable slots and attendance marks).

    Writes that create an id raise :class:`cloud.errors.Conflict` when it exists;
    lookups return None when nothing is there. Every method is thread-safe.
    """

    # students
    @abstractmethod
    def create_student(self, student: Student) -> None: ...
    @abstractmethod
    def get_student(self, student_id: str) -> Student | None: ...
    @abstractmethod
    def list_students(self) -> list[Student]: ...
    @abstractmethod
    def update_student(self, student: Student) -> None: ...
    @abstractmethod
    def delete_student(self, student_id: str) -> bool: ...

    # faces (our record of what is indexed in the collection)
    @abstractmethod
    def add_face(self, face: Enrolment) -> None: ...
    @abstractmethod
    def list_faces(self, student_id: str) -> list[Enrolment]: ...
    @abstractmethod
    def delete_face(self, student_id: str, face_id: str) -> bool: ...

    # classrooms
    @abstractmethod
    def create_classroom(self, classroom: Classroom) -> None: ...
    @abstractmethod
    def get_classroom(self, classroom_id: str) -> Classroom | None: ...
    @abstractmethod
    def list_classrooms(self) -> list[Classroom]: ...

    # sessions
    @abstractmethod
    def create_session(self, session: Session) -> None: ...
    @abstractmethod
    def get_session(self, session_id: str) -> Session | None: ...
    @abstractmethod
    def list_sessions(self, classroom_id: str | None = None) -> list[Session]: ...
    @abstractmethod
    def set_session_closed(self, session_id: str, closed_ms: int) -> bool:
        """Set ``closed_ms`` unless already set; False if it was."""

    # attendance
    @abstractmethod
    def record_sighting(self, sighting: Sighting) -> bool:
        """Store the sighting and fold it into the (session, student) attendance
        record atomically. False (and nothing changes) if ``sighting_id`` exists."""

    @abstractmethod
    def get_sighting(self, sighting_id: str) -> Sighting | None: ...
    @abstractmethod
    def sightings_with_evidence(self, before_ms: int | None = None, student_id: str | None = None) -> list[Sighting]:
        """Sightings that still have an evidence crop, seen before ``before_ms`` and/or of ``student_id``
        (None = any)."""

    @abstractmethod
    def clear_sighting_evidence(self, sighting: Sighting) -> None:
        """Forget the sighting's evidence crop: its ``evidence_ref`` becomes None, and so does its
        attendance record's when it names the same crop. The attendance record itself stays."""

    @abstractmethod
    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]: ...
    @abstractmethod
    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]: ...

    # unknown faces
    @abstractmethod
    def add_unknown(self, unknown: UnknownFace) -> bool:
        """Store ``unknown``; False if ``unknown_id`` exists (idempotent)."""

    @abstractmethod
    def get_unknown(self, unknown_id: str) -> UnknownFace | None: ...
    @abstractmethod
    def list_unknown(self, status: str | None = "pending") -> list[UnknownFace]: ...
    @abstractmethod
    def resolve_unknown(self, unknown_id: str, status: str, student_id: str | None, resolved_ms: int) -> bool:
        """Move a *pending* unknown to ``status``; False if it was not pending."""

    @abstractmethod
    def delete_unknown(self, unknown_id: str) -> bool: ...

    # housekeeping
    @abstractmethod
    def ping(self) -> None:
        """Raise if the backend cannot be used."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""
