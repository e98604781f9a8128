"""The teacher-workflow part of the storage interface: courses, rosters, timetable slots and
attendance marks. :class:`cloud.storage.base.AttendanceStore` includes it, so every backend
(SQLite, DynamoDB) implements it."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..teacher_records import AttendanceMark, Course, CourseMember, TimetableSlot


class TeacherStore(ABC):
    """Courses, course rosters, weekly slots and marks. Same conventions as AttendanceStore:
    creating an existing id raises Conflict, lookups return None, every method is thread-safe."""

    # courses
    @abstractmethod
    def create_course(self, course: Course) -> None: ...
    @abstractmethod
    def get_course(self, course_id: str) -> Course | None: ...
    @abstractmethod
    def list_courses(self) -> list[Course]: ...
    @abstractmethod
    def update_course(self, course: Course) -> bool:
        """Store the course's name and classroom; False if it does not exist."""

    @abstractmethod
    def delete_course(self, course_id: str) -> bool:
        """Delete the course, its roster and its slots (sessions and marks stay as history)."""

    # rosters
    @abstractmethod
    def add_member(self, member: CourseMember) -> bool:
        """Put the student on the course's roster (back on it, keeping the first ``added_ms``, if they
        were removed); False if already on it."""

    @abstractmethod
    def remove_member(self, course_id: str, student_id: str, removed_ms: int) -> bool:
        """Set ``removed_ms`` (the membership stays as history); False if not on the roster."""

    @abstractmethod
    def list_members(self, course_id: str, include_removed: bool = False) -> list[CourseMember]:
        """The course's members by student id (with ``include_removed``, the former ones too)."""

    @abstractmethod
    def courses_of_student(self, student_id: str) -> list[CourseMember]:
        """Every membership of the student, former ones included, by course id."""

    # timetable
    @abstractmethod
    def add_slot(self, slot: TimetableSlot) -> None: ...
    @abstractmethod
    def list_slots(self, course_id: str | None = None) -> list[TimetableSlot]: ...
    @abstractmethod
    def delete_slot(self, slot_id: str) -> bool: ...

    # marks (append-only)
    @abstractmethod
    def add_mark(self, mark: AttendanceMark) -> bool:
        """Append a mark; False (nothing stored) if its (session_id, mark_id) exists."""

    @abstractmethod
    def marks_for_session(self, session_id: str) -> list[AttendanceMark]: ...
