"""SQLite tables and operations of :class:`cloud.storage.teacher_base.TeacherStore`
(mixed into :class:`cloud.storage.sqlite.SQLiteStore`, sharing its connection and lock)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..errors import Conflict
from ..teacher_records import AttendanceMark, Course, CourseMember, TimetableSlot
from .teacher_base import TeacherStore

TEACHER_SCHEMA = """
CREATE TABLE IF NOT EXISTS courses (
    course_id TEXT PRIMARY KEY, name TEXT NOT NULL, classroom_id TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS course_members (
    course_id TEXT NOT NULL, student_id TEXT NOT NULL, added_ms INTEGER NOT NULL, removed_ms INTEGER,
    PRIMARY KEY (course_id, student_id));
CREATE INDEX IF NOT EXISTS course_members_by_student ON course_members (student_id);
CREATE TABLE IF NOT EXISTS timetable_slots (
    slot_id TEXT PRIMARY KEY, course_id TEXT NOT NULL, weekday INTEGER NOT NULL, start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS attendance_marks (
    session_id TEXT NOT NULL, mark_id TEXT NOT NULL, student_id TEXT NOT NULL, state TEXT NOT NULL,
    actor TEXT NOT NULL, marked_ms INTEGER NOT NULL, reason TEXT NOT NULL, previous_state TEXT,
    PRIMARY KEY (session_id, mark_id));
"""


class SQLiteTeacherOps(TeacherStore):
    """Courses, rosters, slots and marks in the SQLite file."""

    _db: sqlite3.Connection
    _lock: Any

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _change(self, sql: str, params: Any = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # ------------------------------------------------------------ courses
    def create_course(self, course: Course) -> None:
        try:
            self._change("INSERT INTO courses VALUES (:course_id, :name, :classroom_id, :created_ms)", course.to_dict())
        except sqlite3.IntegrityError:
            raise Conflict(f"course {course.course_id!r} already exists") from None

    def get_course(self, course_id: str) -> Course | None:
        rows = self._rows("SELECT * FROM courses WHERE course_id = ?", (course_id,))
        return Course(**rows[0]) if rows else None

    def list_courses(self) -> list[Course]:
        return [Course(**r) for r in self._rows("SELECT * FROM courses ORDER BY course_id")]

    def update_course(self, course: Course) -> bool:
        sql = "UPDATE courses SET name = :name, classroom_id = :classroom_id WHERE course_id = :course_id"
        return self._change(sql, course.to_dict()) > 0

    def delete_course(self, course_id: str) -> bool:
        with self._lock:
            self._db.execute("DELETE FROM course_members WHERE course_id = ?", (course_id,))
            self._db.execute("DELETE FROM timetable_slots WHERE course_id = ?", (course_id,))
            return self._db.execute("DELETE FROM courses WHERE course_id = ?", (course_id,)).rowcount > 0

    # ------------------------------------------------------------ rosters
    def add_member(self, member: CourseMember) -> bool:
        sql = (
            "INSERT INTO course_members VALUES (:course_id, :student_id, :added_ms, NULL) ON CONFLICT (course_id,"
            " student_id) DO UPDATE SET removed_ms = NULL WHERE removed_ms IS NOT NULL"
        )
        return self._change(sql, member.to_dict()) > 0

    def remove_member(self, course_id: str, student_id: str, removed_ms: int) -> bool:
        sql = "UPDATE course_members SET removed_ms = ? WHERE course_id = ? AND student_id = ? AND removed_ms IS NULL"
        return self._change(sql, (removed_ms, course_id, student_id)) > 0

    def list_members(self, course_id: str, include_removed: bool = False) -> list[CourseMember]:
        active = "" if include_removed else " AND removed_ms IS NULL"
        sql = f"SELECT * FROM course_members WHERE course_id = ?{active} ORDER BY student_id"
        return [CourseMember(**r) for r in self._rows(sql, (course_id,))]

    def courses_of_student(self, student_id: str) -> list[CourseMember]:
        rows = self._rows("SELECT * FROM course_members WHERE student_id = ? ORDER BY course_id", (student_id,))
        return [CourseMember(**r) for r in rows]

    # ------------------------------------------------------------ timetable
    def add_slot(self, slot: TimetableSlot) -> None:
        sql = "INSERT INTO timetable_slots VALUES (:slot_id, :course_id, :weekday, :start_min, :end_min, :created_ms)"
        params = {k: v for k, v in slot.to_dict().items() if k not in ("day", "start", "end")}
        try:
            self._change(sql, params)
        except sqlite3.IntegrityError:
            raise Conflict(f"timetable slot {slot.slot_id!r} already exists") from None

    def list_slots(self, course_id: str | None = None) -> list[TimetableSlot]:
        if course_id is None:
            rows = self._rows("SELECT * FROM timetable_slots")
        else:
            rows = self._rows("SELECT * FROM timetable_slots WHERE course_id = ?", (course_id,))
        return [TimetableSlot(**r) for r in rows]

    def delete_slot(self, slot_id: str) -> bool:
        return self._change("DELETE FROM timetable_slots WHERE slot_id = ?", (slot_id,)) > 0

    # ------------------------------------------------------------ marks
    def add_mark(self, mark: AttendanceMark) -> bool:
        sql = (
            "INSERT OR IGNORE INTO attendance_marks VALUES (:session_id, :mark_id, :student_id, :state, :actor,"
            " :marked_ms, :reason, :previous_state)"
        )
        return self._change(sql, mark.to_dict()) > 0

    def marks_for_session(self, session_id: str) -> list[AttendanceMark]:
        rows = self._rows(
            "SELECT * FROM attendance_marks WHERE session_id = ? ORDER BY marked_ms, mark_id", (session_id,)
        )
        return [AttendanceMark(**r) for r in rows]
