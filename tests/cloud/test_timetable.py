"""cloud.timetable: slot parsing, meetings in the school's time zone (DST), the scheduler thread,
and idempotency across passes, restarts and a session opened by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from cloud.errors import InvalidInput
from cloud.timetable import TimetableScheduler, parse_day, parse_hhmm
from tests.cloud.api_support import make_service


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def course_with_slot(service, day="mon", start="09:00", end="10:00"):
    service.create_classroom("room-1")
    service.courses.create_course("bio", "Biology", "room-1")
    return service.timetable.add_slot("bio", day, start, end)


def test_parsing() -> None:
    assert [parse_day(d) for d in ("mon", "Tuesday", "SUN", 3)] == [0, 1, 6, 3]
    assert parse_hhmm("9:05", "start") == 545 and parse_hhmm("23:59", "end") == 1439
    for bad in ("24:00", "9h", "", None, "12:60"):
        with pytest.raises(InvalidInput):
            parse_hhmm(bad, "start")
    for bad in ("xyz", 7, -1, True, None):
        with pytest.raises(InvalidInput):
            parse_day(bad)


def test_slots_follow_the_school_time_zone_across_dst(tmp_path) -> None:
    service, _ = make_service(tmp_path, school_timezone="Europe/Paris")
    slot = course_with_slot(service)
    winter = service.timetable.meetings(slot, ms("2027-01-04T00:00:00"), ms("2027-01-05T00:00:00"))
    summer = service.timetable.meetings(slot, ms("2027-07-05T00:00:00"), ms("2027-07-06T00:00:00"))
    assert [(str(d), s, e) for d, s, e in winter] == [("2027-01-04", ms("2027-01-04T08:00:00"), ms("2027-01-04T09:00:00"))]
    assert [(str(d), s) for d, s, _ in summer] == [("2027-07-05", ms("2027-07-05T07:00:00"))]


def test_bad_time_zone_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        make_service(tmp_path, school_timezone="Mars/Olympus")


def test_scheduler_thread_creates_once_and_survives_a_restart(tmp_path) -> None:
    now = {"ms": ms("2027-01-04T08:30:00")}
    service, _ = make_service(tmp_path, timetable_interval_s=0.05, timetable_lookahead_hours=1)
    service.deps.clock = lambda: now["ms"]
    course_with_slot(service)
    scheduler = TimetableScheduler(service.timetable).start()
    try:
        deadline = time.monotonic() + 5
        while not service.list_sessions() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # several more passes
    finally:
        scheduler.stop()
    [session] = service.list_sessions()
    assert session.session_id.endswith("-20270104") and session.status == "scheduled"
    assert service.stats.snapshot()["counters"]["timetable_sessions_created"] == 1
    # the teacher closes it early; a restarted cloud (same database) neither duplicates nor reopens it
    now["ms"] = ms("2027-01-04T09:10:00")
    service.close_session(session.session_id)
    restarted, _ = make_service(tmp_path)
    restarted.deps.clock = lambda: now["ms"]
    assert restarted.timetable.run_once() == []
    assert [s.status for s in restarted.list_sessions()] == ["closed"]


def test_a_session_opened_by_hand_wins_and_is_counted(tmp_path) -> None:
    now = {"ms": ms("2027-01-04T08:50:00")}
    service, _ = make_service(tmp_path)
    service.deps.clock = lambda: now["ms"]
    course_with_slot(service)
    manual = service.open_session("room-1", name="extra lesson")
    assert service.timetable.run_once() == []
    assert service.stats.snapshot()["counters"]["timetable_conflicts"] == 1
    for _ in range(3):  # the conflict stands: later passes skip it again, without counting or logging it again
        assert service.timetable.run_once() == []
    assert service.stats.snapshot()["counters"]["timetable_conflicts"] == 1
    assert [s.session_id for s in service.list_sessions()] == [manual.session_id]
    # no classroom: the course's slots make no session
    service.courses.update_course("bio", classroom_id="")
    service.close_session(manual.session_id)
    assert service.timetable.run_once() == []


def test_the_teacher_workflow_on_every_backend(store, tmp_path) -> None:
    """Timetable session, roll, marks and term export through the service on SQLite and DynamoDB."""
    from cloud.service import AttendanceService
    from cloud.settings import CloudSettings
    from cloud.storage.evidence import LocalEvidenceStore
    from tests.cloud.api_support import FakeRecognizer

    now = {"ms": ms("2027-01-04T08:55:00")}
    service = AttendanceService(store, LocalEvidenceStore(tmp_path), FakeRecognizer(), CloudSettings(data_dir=tmp_path),
                                clock=lambda: now["ms"])
    service.create_classroom("room-1")
    report = service.roster_import.run("student_id,name,course\na,Ada,bio\nb,Bob,bio\n", apply=True)
    assert report["summary"]["enrolments"] == 2
    service.courses.update_course("bio", classroom_id="room-1")
    service.timetable.add_slot("bio", "mon", "09:00", "10:00")
    [session] = service.timetable.run_once()
    assert service.timetable.run_once() == []
    now["ms"] = ms("2027-01-04T09:02:00")
    service.roll.mark(session.session_id, "b", "excused", "trip")
    service.courses.unenrol("bio", "a")  # during the lesson: still in this session's roll
    now["ms"] = ms("2027-01-04T11:00:00")
    assert {s.student_id: s.state for s in service.roll.roll(session.session_id).students} == {"a": "absent", "b": "excused"}
    table = service.reports.course_table("bio", "2027-01-01", "2027-01-31")
    assert [(r["student_id"], r["states"]) for r in table["rows"]] == [("a", ["absent"]), ("b", ["excused"])]
    assert service.reports.student_report("b", "2027-01-01", "2027-01-31")["rate"] is None  # excused only
