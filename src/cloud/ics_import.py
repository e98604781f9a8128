"""Timetable import from iCalendar (.ics, RFC 5545): every weekly recurring event (``RRULE`` with
``FREQ=WEEKLY``) becomes one slot per ``BYDAY`` day (default: the day of ``DTSTART``), from
``DTSTART`` to ``DTEND`` (or ``DTSTART`` + ``DURATION``), converted to the school's time zone.

``DTSTART`` may be UTC (``...Z``), carry a ``TZID`` (an IANA name), or be floating (read in the
school's zone). Events that are not weekly, last past midnight or overlap a slot of the course are
reported with the reason and skipped; nothing else is read (no network, no attachments).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CloudError, InvalidInput
from .teacher_records import WEEKDAYS
from .timetable import Timetable

MAX_BYTES = 512 * 1024
MAX_EVENTS = 500
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _lines(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Unfolded content lines as (NAME, params, value)."""
    unfolded: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += raw[1:]
        elif raw.strip():
            unfolded.append(raw)
    out = []
    for line in unfolded:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        out.append((name.strip().upper(), dict(p.split("=", 1) for p in params if "=" in p), value.strip()))
    return out


def _when(value: str, params: dict[str, str], school: ZoneInfo) -> datetime:
    """A DTSTART/DTEND value as an aware datetime in its own zone (UTC, TZID or, floating, the school's)."""
    try:
        naive = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError:
        raise InvalidInput(f"not a date-time {value[:30]!r} (all-day events cannot be slots)") from None
    if value.endswith("Z"):
        return naive.replace(tzinfo=UTC)
    if "TZID" in params:
        try:
            return naive.replace(tzinfo=ZoneInfo(params["TZID"].strip('"')))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown TZID {params['TZID'][:60]!r}") from None
    return naive.replace(tzinfo=school)


def _duration(value: str) -> timedelta:
    match = _DURATION.match(value)
    if match is None:
        raise InvalidInput(f"not a DURATION {value[:30]!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _event_slots(event: dict[str, tuple[dict[str, str], str]], school: ZoneInfo) -> list[tuple[int, str, str]]:
    """(weekday, HH:MM, HH:MM) of one VEVENT's weekly slots; InvalidInput with the reason."""
    rule = dict(p.split("=", 1) for p in event.get("RRULE", ({}, ""))[1].upper().split(";") if "=" in p)
    if rule.get("FREQ") != "WEEKLY" or rule.get("INTERVAL", "1") != "1":
        raise InvalidInput("not a weekly recurring event (RRULE FREQ=WEEKLY)")
    if "DTSTART" not in event:
        raise InvalidInput("no DTSTART")
    own = _when(event["DTSTART"][1], event["DTSTART"][0], school)
    if "DTEND" in event:
        end = _when(event["DTEND"][1], event["DTEND"][0], school).astimezone(school)
    elif "DURATION" in event:
        end = (own + _duration(event["DURATION"][1])).astimezone(school)
    else:
        raise InvalidInput("no DTEND or DURATION")
    start = own.astimezone(school)
    if end.date() != start.date() or end <= start:
        raise InvalidInput("the event must end after it starts, on the same day (school time zone)")
    shift = start.weekday() - own.weekday()  # BYDAY days are in DTSTART's zone: the school's may be a day off
    days = [d[-2:] for d in rule.get("BYDAY", _ICAL_DAYS[own.weekday()]).split(",") if d]
    if any(d not in _ICAL_DAYS for d in days):
        raise InvalidInput(f"unknown BYDAY {rule.get('BYDAY', '')[:30]!r}")
    return [((_ICAL_DAYS.index(d) + shift) % 7, f"{start:%H:%M}", f"{end:%H:%M}") for d in days]


def import_ics(timetable: Timetable, course_id: str, data: bytes | str) -> dict[str, Any]:
    """Add the weekly slots of an .ics file to the course; the report: ``added`` slots and ``errors``
    (event summary and reason)."""
    timetable.courses.get_course(course_id)
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise InvalidInput(f"the calendar has {len(data)} bytes; the limit is {MAX_BYTES}")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the calendar is not UTF-8 text") from None
    lines = _lines(data)
    if not lines or lines[0][:1] != ("BEGIN",) or lines[0][2].upper() != "VCALENDAR":
        raise InvalidInput("not an iCalendar file (it must start with BEGIN:VCALENDAR)")
    events: list[dict[str, tuple[dict[str, str], str]]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    for name, params, value in lines:
        if name == "BEGIN" and value.upper() == "VEVENT":
            current = {}
        elif name == "END" and value.upper() == "VEVENT" and current is not None:
            events.append(current)
            current = None
        elif current is not None:
            current.setdefault(name, (params, value))
    if len(events) > MAX_EVENTS:
        raise InvalidInput(f"the calendar has more than {MAX_EVENTS} events")
    school = timetable.zone
    added, errors = [], []
    for event in events:
        summary = event.get("SUMMARY", ({}, ""))[1][:100]
        try:
            for day, start, end in _event_slots(event, school):
                added.append(timetable.add_slot(course_id, WEEKDAYS[day], start, end).to_dict())
        except CloudError as exc:  # InvalidInput, or Conflict (overlaps a slot)
            errors.append({"event": summary, "error": str(exc)})
    if errors:
        timetable.deps.stats.inc("ics_events_rejected", len(errors))
    return {"course_id": course_id, "events": len(events), "added": added, "errors": errors}
