"""Contract tests of the teacher tables every attendance store has (SQLite + DynamoDB via moto):
courses, rosters, timetable slots, attendance marks, and a session's course."""

from __future__ import annotations

import pytest

from cloud.errors import Conflict
from cloud.records import Session
from cloud.teacher_records import AttendanceMark, Course, CourseMember, TimetableSlot


def test_courses(store) -> None:
    store.create_course(Course("bio-1", "Biology 1", None, 5))
    store.create_course(Course("chem-2", "Chemistry", "lab-2", 6))
    with pytest.raises(Conflict):
        store.create_course(Course("bio-1", "again", None, 7))
    assert store.get_course("bio-1") == Course("bio-1", "Biology 1", None, 5)
    assert store.get_course("nope") is None
    assert [c.course_id for c in store.list_courses()] == ["bio-1", "chem-2"]
    assert store.update_course(Course("bio-1", "Biology I", "room-101", 5)) is True
    assert store.get_course("bio-1") == Course("bio-1", "Biology I", "room-101", 5)
    assert store.update_course(Course("chem-2", "Chemistry", None, 6)) is True
    assert store.get_course("chem-2").classroom_id is None
    assert store.update_course(Course("ghost", "Ghost", None, 1)) is False
    assert store.get_course("ghost") is None


def test_rosters(store) -> None:
    store.create_course(Course("bio-1", "Biology", None, 1))
    assert store.add_member(CourseMember("bio-1", "s2", 10)) is True
    assert store.add_member(CourseMember("bio-1", "s1", 11)) is True
    assert store.add_member(CourseMember("bio-1", "s1", 12)) is False  # already there: unchanged
    assert store.add_member(CourseMember("chem-2", "s1", 13)) is True
    assert store.list_members("bio-1") == [CourseMember("bio-1", "s1", 11), CourseMember("bio-1", "s2", 10)]
    assert [m.course_id for m in store.courses_of_student("s1")] == ["bio-1", "chem-2"]
    assert store.remove_member("bio-1", "s2", 50) is True
    assert store.remove_member("bio-1", "s2", 60) is False
    assert store.remove_member("bio-1", "ghost", 60) is False
    assert [m.student_id for m in store.list_members("bio-1")] == ["s1"]
    assert store.list_members("bio-1", include_removed=True)[1] == CourseMember("bio-1", "s2", 10, 50)
    assert store.list_members("none") == []
    # back on the roster: the first added_ms stays, removed_ms goes
    assert store.add_member(CourseMember("bio-1", "s2", 70)) is True
    assert store.list_members("bio-1")[1] == CourseMember("bio-1", "s2", 10, None)
    assert store.add_member(CourseMember("bio-1", "s2", 80)) is False


def test_slots_and_course_deletion(store) -> None:
    store.create_course(Course("bio-1", "Biology", "room-1", 1))
    store.add_member(CourseMember("bio-1", "s1", 2))
    slot = TimetableSlot("sl1", "bio-1", 0, 9 * 60, 10 * 60, 3)
    store.add_slot(slot)
    store.add_slot(TimetableSlot("sl2", "other", 4, 13 * 60, 14 * 60 + 30, 4))
    with pytest.raises(Conflict):
        store.add_slot(slot)
    assert store.list_slots("bio-1") == [slot]
    assert sorted(s.slot_id for s in store.list_slots()) == ["sl1", "sl2"]
    assert store.delete_slot("sl2") is True
    assert store.delete_slot("sl2") is False
    assert store.delete_course("bio-1") is True
    assert store.get_course("bio-1") is None
    assert store.list_members("bio-1", include_removed=True) == [] and store.list_slots() == []
    assert store.courses_of_student("s1") == []
    assert store.delete_course("bio-1") is False


def test_marks_are_append_only(store) -> None:
    first = AttendanceMark("S1", "0001-a", "s1", "excused", "teacher-1", 100, "doctor's note", "absent")
    assert store.add_mark(first) is True
    assert store.add_mark(first) is False
    store.add_mark(AttendanceMark("S1", "0002-b", "s1", "absent", "teacher-2", 200, "", "excused"))
    store.add_mark(AttendanceMark("S2", "0001-c", "s1", "late", "api", 150))
    marks = store.marks_for_session("S1")
    assert [m.mark_id for m in marks] == ["0001-a", "0002-b"]
    assert marks[0] == first
    assert marks[1].reason == "" and marks[1].previous_state == "excused"
    assert store.marks_for_session("nothing") == []


def test_session_keeps_its_course(store) -> None:
    store.create_session(Session("S1", "room-1", "Bio", 1, 2, 3, course_id="bio-1", scheduled=True))
    store.create_session(Session("S2", "room-1", "Free", 1, 5))
    assert store.get_session("S1").course_id == "bio-1"
    assert store.get_session("S2").course_id is None
    assert {s.session_id: s.course_id for s in store.list_sessions("room-1")} == {"S1": "bio-1", "S2": None}


def test_sqlite_sessions_of_an_older_database_get_a_course_column(tmp_path) -> None:
    import sqlite3

    from cloud.storage.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY, classroom_id TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,
            starts_ms INTEGER NOT NULL, ends_ms INTEGER, closed_ms INTEGER, scheduled INTEGER NOT NULL);
        INSERT INTO sessions VALUES ('old', 'room-1', 'Before courses', 1, 2, NULL, 5, 0);
    """)
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.get_session("old").course_id is None
    store.create_session(Session("new", "room-1", "Bio", 10, 20, 30, course_id="bio", scheduled=True))
    assert store.get_session("new").course_id == "bio"
    assert store.list_courses() == []  # the teacher tables were created
    store.close()
