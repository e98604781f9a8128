"""The weekly timetable: slots per course (day, start, end in the school's time zone) and the
scheduler that turns them into sessions by itself.

Each slot meets once a week. For every meeting that ends in the future and starts within
``timetable_lookahead_hours``, the scheduler creates a *scheduled* session of the course in its
classroom, id ``tt-<slot_id>-<YYYYMMDD>`` (the local date). Scheduled sessions are open while
now is in [start, end), so they open and close at the slot's times by themselves. The id makes
the pass idempotent: a restart, a second pass or a second cloud process never creates a
duplicate (the store refuses an existing id), and a session the teacher closed early stays closed.
A meeting that overlaps a session opened by hand in the classroom is skipped, and counted
(``timetable_conflicts``) and logged once while the same conflict stands. Deleting a slot cancels
its meetings that have not started yet.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from common.logs import log_event
from common.protocol import new_id

from .courses import Courses
from .deps import ServiceDeps
from .errors import Conflict, InvalidInput, NotFound
from .records import Session
from .sessions import Sessions
from .teacher_records import WEEKDAYS, TimetableSlot

log = logging.getLogger("rollcall.cloud.timetable")

#: Skipped meetings remembered so a standing conflict is reported once.
MAX_SKIPPED_REMEMBERED = 1000
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_day(value: object) -> int:
    """``mon``..``sun`` (any case, or the full English name) or 0-6 -> 0 (Monday)..6; else InvalidInput."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()[:3] if isinstance(value, str) else ""
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise InvalidInput(f"day must be one of {', '.join(WEEKDAYS)}, not {str(value)[:20]!r}")


def parse_hhmm(value: object, what: str) -> int:
    """``HH:MM`` (24 h) -> minutes after midnight; else InvalidInput."""
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{what} must be a time HH:MM (24 h), not {str(value)[:20]!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def session_id_for(slot: TimetableSlot, day: date) -> str:
    """The one session id of a slot's meeting on a local date."""
    return f"tt-{slot.slot_id}-{day:%Y%m%d}"


class Timetable:
    """Slots per course and the sessions they make."""

    def __init__(self, deps: ServiceDeps, courses: Courses, sessions: Sessions) -> None:
        self.deps = deps
        self.courses = courses
        self.sessions = sessions
        #: Meetings skipped and why, so a conflict that stands is logged and counted once, not on
        #: every pass (bounded: the oldest are forgotten first).
        self._skipped: OrderedDict[str, str] = OrderedDict()

    @property
    def zone(self) -> ZoneInfo:
        """The school's time zone."""
        return ZoneInfo(self.deps.settings.school_timezone)

    def add_slot(self, course_id: str, day: object, start: object, end: object) -> TimetableSlot:
        """A weekly slot of the course (InvalidInput if end is not after start)."""
        self.courses.get_course(course_id)
        start_min, end_min = parse_hhmm(start, "start"), parse_hhmm(end, "end")
        if end_min <= start_min:
            raise InvalidInput("end must be after start (a slot cannot cross midnight)")
        slot = TimetableSlot(new_id()[:12], course_id, parse_day(day), start_min, end_min, self.deps.clock())
        for other in self.deps.store.list_slots(course_id):
            if other.weekday == slot.weekday and other.start_min < end_min and start_min < other.end_min:
                raise Conflict(
                    f"the slot overlaps the course's slot {other.slot_id} ({other.to_dict()['day']} "
                    f"{other.to_dict()['start']}-{other.to_dict()['end']})"
                )
        self.deps.store.add_slot(slot)
        log_event(log, "slot_added", course_id=course_id, slot_id=slot.slot_id, day=WEEKDAYS[slot.weekday])
        return slot

    def list_slots(self, course_id: str | None = None) -> list[TimetableSlot]:
        """Slots (of one course), by day and start."""
        if course_id is not None:
            self.courses.get_course(course_id)
        return sorted(self.deps.store.list_slots(course_id), key=lambda s: (s.weekday, s.start_min, s.course_id))

    def delete_slot(self, course_id: str, slot_id: str) -> int:
        """Delete a slot and cancel its sessions not started yet; how many were cancelled."""
        if not any(s.slot_id == slot_id for s in self.list_slots(course_id)):
            raise NotFound(f"slot {str(slot_id)[:40]!r} of course {course_id!r} not found")
        self.deps.store.delete_slot(slot_id)
        now, cancelled = self.deps.clock(), 0
        for session in self.deps.store.list_sessions():
            if session.session_id.startswith(f"tt-{slot_id}-") and session.status_at(now) == "scheduled":
                cancelled += self.deps.store.set_session_closed(session.session_id, now)
        log_event(log, "slot_deleted", course_id=course_id, slot_id=slot_id, sessions_cancelled=cancelled)
        return cancelled

    def meetings(self, slot: TimetableSlot, from_ms: int, to_ms: int) -> list[tuple[date, int, int]]:
        """(local date, start ms, end ms) of the slot's meetings that end after ``from_ms`` and
        start before ``to_ms`` (DST-aware: wall-clock times in the school's zone)."""
        zone = self.zone
        first = datetime.fromtimestamp(from_ms / 1000, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(to_ms / 1000, zone).date() + timedelta(days=1)
        out = []
        day = first + timedelta(days=(slot.weekday - first.weekday()) % 7)
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            start = int((midnight + timedelta(minutes=slot.start_min)).timestamp() * 1000)
            end = int((midnight + timedelta(minutes=slot.end_min)).timestamp() * 1000)
            if end > from_ms and start < to_ms:
                out.append((day, start, end))
            day += timedelta(days=7)
        return out

    def run_once(self) -> list[Session]:
        """One scheduler pass: create the sessions due; return those created."""
        now = self.deps.clock()
        horizon = now + int(self.deps.settings.timetable_lookahead_hours * 3_600_000)
        created = []
        for slot in self.deps.store.list_slots():
            course = self.deps.store.get_course(slot.course_id)
            if course is None or not course.classroom_id:
                continue
            for day, start, end in self.meetings(slot, now, max(horizon, now + 1)):
                session_id = session_id_for(slot, day)
                if self.deps.store.get_session(session_id) is not None:
                    continue
                try:
                    session = self.sessions.open_session(
                        course.classroom_id,
                        name=f"{course.name} {day:%a %d %b}",
                        starts_at=start,
                        ends_at=end,
                        course_id=course.course_id,
                        session_id=session_id,
                    )
                except (Conflict, NotFound, InvalidInput) as exc:
                    detail = str(exc)[:200]
                    if self._skipped.get(session_id) == detail:
                        continue  # the same conflict as on an earlier pass: said already
                    self._skipped[session_id] = detail
                    while len(self._skipped) > MAX_SKIPPED_REMEMBERED:
                        self._skipped.popitem(last=False)
                    self.deps.stats.inc("timetable_conflicts")
                    log_event(
                        log,
                        "timetable_session_skipped",
                        level=logging.WARNING,
                        slot_id=slot.slot_id,
                        session_id=session_id,
                        detail=detail,
                    )
                    continue
                self._skipped.pop(session_id, None)
                self.deps.stats.inc("timetable_sessions_created")
                created.append(session)
        return created


class TimetableScheduler:
    """A daemon thread calling :meth:`Timetable.run_once` every ``timetable_interval_s``."""

    def __init__(self, timetable: Timetable) -> None:
        self.timetable = timetable
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TimetableScheduler:
        """Start the thread (a pass runs at once)."""
        self._thread = threading.Thread(target=self._run, name="timetable-scheduler", daemon=True)
        self._thread.start()
        log_event(log, "timetable_scheduler_started", interval_s=self.timetable.deps.settings.timetable_interval_s)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.timetable.run_once()
            except Exception as exc:  # a store outage: log, count, try again next pass
                self.timetable.deps.stats.inc("timetable_errors")
                log_event(log, "timetable_pass_failed", level=logging.ERROR, detail=str(exc)[:300])
            self._stop.wait(self.timetable.deps.settings.timetable_interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
