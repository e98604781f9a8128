"""Courses (class sections) and their rosters: create, set the classroom, enrol students,
and the roster CSV import (``student_id,name,email,course``) with a preview of what changes."""

from __future__ import annotations

import logging

from common.logs import log_event

from .deps import ServiceDeps
from .errors import Conflict, InvalidInput, NotFound
from .inputs import check_id, check_name
from .records import Session, Student
from .roster import Roster
from .sessions import Sessions
from .teacher_records import Course, CourseMember

log = logging.getLogger("rollcall.cloud.courses")


class Courses:
    """Course registry and rosters. A course meets in one classroom (None until set); a
    session opened for it is a session of that classroom with ``course_id`` set."""

    def __init__(self, deps: ServiceDeps, roster: Roster, sessions: Sessions) -> None:
        self.deps = deps
        self.roster = roster
        self.sessions = sessions

    def create_course(self, course_id: str, name: str | None = None, classroom_id: str | None = None) -> Course:
        """Register a course (Conflict if the id exists; NotFound if the classroom does not)."""
        course_id = check_id("course_id", course_id)
        if classroom_id:
            self.sessions.get_classroom(classroom_id)
        course = Course(
            course_id=course_id,
            name=check_name("name", name) if name is not None else course_id,  # type: ignore[arg-type]
            classroom_id=classroom_id or None,
            created_ms=self.deps.clock(),
        )
        self.deps.store.create_course(course)
        log_event(log, "course_created", course_id=course_id, classroom_id=course.classroom_id)
        return course

    def get_course(self, course_id: str) -> Course:
        """The course (NotFound if absent)."""
        course = self.deps.store.get_course(str(course_id))
        if course is None:
            raise NotFound(f"course {str(course_id)[:70]!r} not found")
        return course

    def list_courses(self) -> list[Course]:
        """Every course, by id."""
        return sorted(self.deps.store.list_courses(), key=lambda c: c.course_id)

    def update_course(self, course_id: str, name: str | None = None, classroom_id: str | None = None) -> Course:
        """Rename the course and/or move it to a classroom (``classroom_id=""`` unsets it)."""
        course = self.get_course(course_id)
        if name is not None:
            course = Course(
                course.course_id, check_name("name", name) or course.name, course.classroom_id, course.created_ms
            )
        if classroom_id is not None:
            if classroom_id:
                self.sessions.get_classroom(classroom_id)
            course = Course(course.course_id, course.name, classroom_id or None, course.created_ms)
        if not self.deps.store.update_course(course):
            raise NotFound(f"course {course_id!r} not found")
        return course

    def delete_course(self, course_id: str) -> None:
        """Delete a course that has no session yet, with its roster and timetable. Conflict if it has
        sessions: they need its roster (the register stays whole)."""
        self.get_course(course_id)
        sessions = sum(s.course_id == course_id for s in self.deps.store.list_sessions())
        if sessions:
            raise Conflict(
                f"course {course_id!r} has {sessions} session(s); its register must stay, so it cannot be deleted"
            )
        self.deps.store.delete_course(course_id)
        log_event(log, "course_deleted", course_id=course_id)

    # ------------------------------------------------------------ rosters
    def roster_of(self, course_id: str) -> list[Student]:
        """The students on the course's roster, by id (a member whose student was deleted is left out)."""
        self.get_course(course_id)
        out = []
        for member in self.deps.store.list_members(course_id):
            student = self.deps.store.get_student(member.student_id)
            if student is not None:
                out.append(student)
        return out

    def roster_ids(self, course_id: str) -> list[str]:
        """The student ids on the roster (deleted students included: they stay in the register)."""
        return [m.student_id for m in self.deps.store.list_members(course_id)]

    def enrol(self, course_id: str, student_id: str) -> bool:
        """Put an existing student on the roster; False if already there."""
        self.get_course(course_id)
        self.roster.get_student(student_id)
        added = self.deps.store.add_member(CourseMember(course_id, student_id, self.deps.clock()))
        if added:
            log_event(log, "course_student_added", course_id=course_id, student_id=student_id)
        return added

    def unenrol(self, course_id: str, student_id: str) -> None:
        """Take a student off the roster from now on (NotFound if not on it); the rolls of the sessions
        they were a member during keep them."""
        self.get_course(course_id)
        if not self.deps.store.remove_member(course_id, student_id, self.deps.clock()):
            raise NotFound(f"student {student_id!r} is not on the roster of {course_id!r}")
        log_event(log, "course_student_removed", course_id=course_id, student_id=student_id)

    def courses_of_student(self, student_id: str, include_former: bool = False) -> list[Course]:
        """The courses the student is on the roster of (with ``include_former``, or was)."""
        out = []
        for member in self.deps.store.courses_of_student(student_id):
            if member.removed_ms is not None and not include_former:
                continue
            course = self.deps.store.get_course(member.course_id)
            if course is not None:
                out.append(course)
        return out

    def open_course_session(
        self, course_id: str, name: str | None = None, starts_at: object = None, ends_at: object = None
    ) -> Session:
        """Open (or schedule) a session of the course in its classroom (InvalidInput without one)."""
        course = self.get_course(course_id)
        if not course.classroom_id:
            raise InvalidInput(f"course {course_id!r} has no classroom yet; set one first")
        return self.sessions.open_session(
            course.classroom_id, name=name or course.name, starts_at=starts_at, ends_at=ends_at, course_id=course_id
        )
