"""cloud.attendance_states: the roll of a session (course roster, visitors, late rule, marks winning
over the cameras, sessions without a course) and the emotion distribution (seed 003)."""

from __future__ import annotations

import pytest

from cloud.errors import InvalidInput, NotFound
from cloud.records import Sighting
from tests.cloud.api_support import make_service

START = 1_800_000_000_000
MIN = 60_000


def seen(service, session_id: str, student_id: str, at_ms: int, emotion: str | None = None, msg: str = "") -> None:
    service.store.record_sighting(Sighting(sighting_id=msg or f"{student_id}-{at_ms}", session_id=session_id,
                                           student_id=student_id, camera_id="cam-1", seen_ms=at_ms, similarity=99.0,
                                           emotion=emotion))


@pytest.fixture
def course_session(tmp_path):
    service, _ = make_service(tmp_path, late_grace_minutes=10)
    now = {"ms": START}
    service.deps.clock = lambda: now["ms"]
    service.create_classroom("room-1")
    service.courses.create_course("bio", "Biology", "room-1")
    for sid, name in (("a", "Ada"), ("b", "Bob"), ("c", "Cy"), ("v", "Vera")):
        service.create_student(sid, name)
        if sid != "v":
            service.courses.enrol("bio", sid)
    session = service.courses.open_course_session("bio")
    return service, session, now


def test_late_rule_visitors_and_counts(course_session) -> None:
    service, session, _ = course_session
    seen(service, session.session_id, "a", START + 10 * MIN, "HAPPY")  # exactly at the grace limit: on time
    seen(service, session.session_id, "b", START + 10 * MIN + 1, "CALM")  # one ms later: late
    seen(service, session.session_id, "v", START + MIN, "HAPPY")
    roll = service.roll.roll(session.session_id)
    assert [(s.student_id, s.state, s.source) for s in roll.students] == [
        ("a", "present_camera", "camera"), ("b", "late", "camera"), ("c", "absent", "none")]
    assert [(v.student_id, v.state, v.on_roster) for v in roll.visitors] == [("v", "visitor", False)]
    counts = roll.counts()
    assert (counts["present"], counts["late"], counts["absent"], counts["roster"], counts["visitors"]) == (2, 1, 1, 3, 1)
    assert roll.emotions() == {"CALM": 1, "HAPPY": 1}  # the visitor's emotion does not count
    assert roll.to_dict()["emotions_enabled"] is False  # ROLLCALL_CLOUD_DETECT_EMOTIONS is off here


def test_marks_win_and_keep_history(course_session) -> None:
    service, session, now = course_session
    seen(service, session.session_id, "a", START + MIN)
    now["ms"] += 5 * MIN
    line = service.roll.mark(session.session_id, "a", "absent", "  wrong match  ", actor="teacher-7", peer="10.0.0.9")
    assert (line.state, line.camera_state, line.mark.reason, line.mark.previous_state) == (
        "absent", "present_camera", "wrong match", "present_camera")
    service.roll.mark(session.session_id, "a", "present_manual", "it was Ada after all")
    roll = service.roll.roll(session.session_id)
    assert roll.students[0].state == "present_manual" and roll.students[0].record is not None
    history = service.roll.history(session.session_id)
    assert [(m.actor, m.state) for m in history] == [("teacher-7", "absent"), ("api", "present_manual")]
    assert service.stats.snapshot()["counters"]["attendance_marks"] == 2
    for state, reason in (("visitor", "x"), ("present_camera", "x"), ("late", ""), ("late", "x" * 501)):
        with pytest.raises(InvalidInput):
            service.roll.mark(session.session_id, "b", state, reason)
    with pytest.raises(NotFound):
        service.roll.mark(session.session_id, "v", "late", "not on the roster")
    with pytest.raises(NotFound):
        service.roll.mark("0123456789abcdef", "a", "late", "no such session")


def test_a_session_without_course_lists_who_was_seen_or_marked(tmp_path) -> None:
    service, _ = make_service(tmp_path)
    service.create_classroom("room-1")
    service.create_student("a", "Ada")
    service.create_student("b", "Bob")
    session = service.open_session("room-1")
    seen(service, session.session_id, "a", session.starts_ms + 1000)
    roll = service.roll.roll(session.session_id)
    assert [(s.student_id, s.state) for s in roll.students] == [("a", "present_camera")] and roll.visitors == []
    service.roll.mark(session.session_id, "b", "excused", "sports day")
    assert [(s.student_id, s.state) for s in service.roll.roll(session.session_id).students] == [
        ("a", "present_camera"), ("b", "excused")]
    with pytest.raises(NotFound):
        service.roll.mark(session.session_id, "ghost", "late", "who?")


def test_a_deleted_student_stays_on_the_register(course_session) -> None:
    service, session, _ = course_session
    service.delete_student("c")
    roll = service.roll.roll(session.session_id)
    assert ("c", None, "absent") in [(s.student_id, s.name, s.state) for s in roll.students]


def test_the_roll_of_a_past_session_keeps_its_roster(course_session) -> None:
    service, session, now = course_session
    seen(service, session.session_id, "a", START + MIN)
    now["ms"] += 60 * MIN
    service.close_session(session.session_id)
    now["ms"] += 60 * MIN
    service.courses.unenrol("bio", "c")  # left the course after that lesson
    service.create_student("n", "Newcomer")
    service.courses.enrol("bio", "n")  # joined after it
    past = service.roll.roll(session.session_id)
    assert [s.student_id for s in past.students] == ["a", "b", "c"]
    current = service.courses.open_course_session("bio")
    assert [s.student_id for s in service.roll.roll(current.session_id).students] == ["a", "b", "n"]
    # the course cannot be deleted any more: its register would lose its roster
    from cloud.errors import Conflict

    with pytest.raises(Conflict, match="cannot be deleted"):
        service.courses.delete_course("bio")
