"""cloud.ics_import: weekly events of an iCalendar file become timetable slots in the school's zone."""

from __future__ import annotations

import pytest

from cloud.errors import InvalidInput
from cloud.ics_import import import_ics
from tests.cloud.api_support import make_service

CALENDAR = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//school//timetable//EN\r
BEGIN:VEVENT\r
SUMMARY:Biology (Paris time)\r
DTSTART;TZID=Europe/Paris:20270104T090000\r
DTEND;TZID=Europe/Paris:20270104T100000\r
RRULE:FREQ=WEEKLY;BYDAY=MO,TH\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Lab (UTC, a dura\r
 tion, folded line)\r
DTSTART:20270106T130000Z\r
DURATION:PT1H30M\r
RRULE:FREQ=WEEKLY\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Late class in New York\r
DTSTART;TZID=America/New_York:20270105T200000\r
DTEND;TZID=America/New_York:20270105T203000\r
RRULE:FREQ=WEEKLY;BYDAY=TU\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Assembly (once)\r
DTSTART:20270107T080000Z\r
DTEND:20270107T083000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Sports day\r
DTSTART;VALUE=DATE:20270108\r
RRULE:FREQ=WEEKLY\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Overlap\r
DTSTART;TZID=Europe/Paris:20270104T093000\r
DTEND;TZID=Europe/Paris:20270104T103000\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def service(tmp_path):
    svc, _ = make_service(tmp_path, school_timezone="Europe/Paris")
    svc.create_classroom("room-1")
    svc.courses.create_course("bio", "Biology", "room-1")
    return svc


def test_weekly_events_become_slots(service) -> None:
    report = import_ics(service.timetable, "bio", CALENDAR.encode())
    assert report["events"] == 6
    got = sorted((s["day"], s["start"], s["end"]) for s in report["added"])
    assert got == sorted([
        ("mon", "09:00", "10:00"), ("thu", "09:00", "10:00"),
        ("wed", "14:00", "15:30"),  # 13:00 UTC is 14:00 in Paris in winter
        ("wed", "02:00", "02:30"),  # Tuesday 20:00 in New York is Wednesday 02:00 in Paris
    ])
    reasons = {e["event"]: e["error"] for e in report["errors"]}
    assert "weekly" in reasons["Assembly (once)"]
    assert "all-day" in reasons["Sports day"]
    assert "overlaps" in reasons["Overlap"]
    assert "Lab (UTC, a duration, folded line)" not in reasons
    assert len(service.timetable.list_slots("bio")) == 4
    assert service.stats.snapshot()["counters"]["ics_events_rejected"] == 3


def test_not_a_calendar(service) -> None:
    with pytest.raises(InvalidInput, match="BEGIN:VCALENDAR"):
        import_ics(service.timetable, "bio", b"student_id,name\n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        import_ics(service.timetable, "bio", b"\xff\xfe\x00")
    bad_zone = CALENDAR.replace("Europe/Paris:20270104T090000", "Mars/Base:20270104T090000")
    report = import_ics(service.timetable, "bio", bad_zone)
    assert any("unknown TZID" in e["error"] for e in report["errors"])


def test_api_import(service) -> None:
    from cloud.app import create_app
    from tests.cloud.api_support import authed_client

    client = authed_client(create_app(service=service, settings=service.settings), role="teacher")
    response = client.post("/api/courses/bio/slots/import", data=CALENDAR, content_type="text/calendar")
    assert response.status_code == 200 and len(response.get_json()["added"]) == 4
    assert client.post("/api/courses/bio/slots/import", data=b"", content_type="text/calendar").status_code == 400
    assert client.post("/api/courses/nope/slots/import", data=CALENDAR, content_type="text/calendar").status_code == 404
