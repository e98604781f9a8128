"""Classrooms and class sessions: scheduling, the overlap rule, and the locked
auto-create (opt-in, ``auto_create_classrooms``) / auto-open used by the crop path."""

from __future__ import annotations

import logging
import threading
from typing import Any

from common.logs import log_event
from common.protocol import new_id
from common.rules import is_id

from .deps import ServiceDeps
from .errors import Conflict, InvalidInput, NotFound
from .inputs import check_id, check_name, parse_time
from .records import SESSION_STATUSES, Classroom, Session, iso

log = logging.getLogger("rollcall.cloud.service")


def newest(sessions: list[Session], now: int) -> Session | None:
    """The latest-starting of ``sessions``, its status resolved at ``now`` (None if empty)."""
    return max(sessions, key=lambda s: s.starts_ms).resolved(now) if sessions else None


def _open_then_ended(session: Session, at_ms: int, now: int) -> bool:
    """``session`` was open at ``at_ms`` and has ended by ``now``."""
    end = session.end_ms()
    return end is not None and session.starts_ms <= at_ms < end <= now


class Sessions:
    """Classroom registry and sessions. Sessions of one classroom never overlap: opening
    one is serialised by a lock inside this process (see docs/cloud.md for DynamoDB)."""

    def __init__(self, deps: ServiceDeps) -> None:
        self.deps = deps
        self._session_lock = threading.Lock()
        self._classroom_lock = threading.Lock()

    # ------------------------------------------------------------ classrooms
    def create_classroom(self, classroom_id: str, name: str | None = None) -> Classroom:
        """Register a classroom (Conflict if the id exists)."""
        classroom = Classroom(
            classroom_id=check_id("classroom_id", classroom_id),
            # check_name returns str when the name is required (its Optional return is for optional names)
            name=check_name("name", name) if name is not None else classroom_id,  # type: ignore[arg-type]
            created_ms=self.deps.clock(),
        )
        self.deps.store.create_classroom(classroom)
        return classroom

    def list_classrooms(self) -> list[Classroom]:
        """Every classroom, by id."""
        return sorted(self.deps.store.list_classrooms(), key=lambda c: c.classroom_id)

    def get_classroom(self, classroom_id: str) -> Classroom:
        """The classroom (NotFound if absent)."""
        classroom = self.deps.store.get_classroom(str(classroom_id))
        if classroom is None:
            raise NotFound(f"classroom {str(classroom_id)[:70]!r} not found")
        return classroom

    # -------------------------------------------------------------- sessions
    def open_session(
        self,
        classroom_id: str,
        name: str | None = None,
        starts_at: Any = None,
        ends_at: Any = None,
        course_id: str | None = None,
        session_id: str | None = None,
    ) -> Session:
        """Open a session now, or schedule one (``starts_at``/``ends_at``: ISO 8601,
        datetime or epoch ms; naive = UTC). Conflict if it overlaps another session
        of the classroom (in particular an open one), or if ``session_id`` (default: a new
        id; the timetable gives one per slot and day) exists. ``course_id``: the course it is for."""
        self.get_classroom(classroom_id)
        now = self.deps.clock()
        start = parse_time(starts_at, "starts_at")
        end = parse_time(ends_at, "ends_at")
        scheduled = start is not None or end is not None
        start = start if start is not None else now
        if end is not None and end <= start:
            raise InvalidInput("ends_at must be after starts_at")
        if end is not None and end <= now:
            raise InvalidInput("ends_at is in the past")
        if name is not None:
            name = check_name("name", name)
        with self._session_lock:
            for other in self.deps.store.list_sessions(classroom_id):
                if other.overlaps(start, end):
                    state = other.status_at(now)
                    raise Conflict(
                        f"classroom {classroom_id!r} already has a {state} session {other.session_id} "
                        f"({iso(other.starts_ms)} - {iso(other.end_ms()) or 'open-ended'}) overlapping this one"
                    )
            session = Session(
                session_id=session_id or new_id()[:16],
                classroom_id=classroom_id,
                name=name or f"{classroom_id} {iso(start)}",
                created_ms=now,
                starts_ms=start,
                ends_ms=end,
                scheduled=scheduled,
                course_id=course_id,
            )
            self.deps.store.create_session(session)
        log_event(
            log,
            "session_opened",
            session_id=session.session_id,
            classroom_id=classroom_id,
            starts_ms=start,
            ends_ms=end,
            scheduled=scheduled,
            course_id=course_id,
        )
        return session.resolved(now)

    def close_session(self, session_id: str) -> Session:
        """Close a session now (a scheduled one not yet started is cancelled).
        Conflict if it is already closed."""
        session = self.get_session(session_id)
        if session.status == "closed":
            raise Conflict(f"session {session_id} is already closed")
        now = self.deps.clock()
        if not self.deps.store.set_session_closed(session_id, now):
            raise Conflict(f"session {session_id} is already closed")
        log_event(log, "session_closed", session_id=session_id, classroom_id=session.classroom_id)
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> Session:
        """The session with its status at this moment (NotFound if absent)."""
        session = self.deps.store.get_session(str(session_id))
        if session is None:
            raise NotFound(f"session {str(session_id)[:70]!r} not found")
        return session.resolved(self.deps.clock())

    def list_sessions(self, classroom_id: str | None = None, status: str | None = None) -> list[Session]:
        """Sessions, newest first, optionally of one classroom and/or status
        (``scheduled``/``open``/``closed``)."""
        if status not in (None, "", *SESSION_STATUSES):
            raise InvalidInput(f"status must be one of {', '.join(SESSION_STATUSES)}")
        now = self.deps.clock()
        sessions = [s.resolved(now) for s in self.deps.store.list_sessions(classroom_id or None)]
        if status:
            sessions = [s for s in sessions if s.status == status]
        return sorted(sessions, key=lambda s: (s.starts_ms, s.created_ms), reverse=True)

    def current_session(self, classroom_id: str) -> Session | None:
        """The session open now in the classroom, or None."""
        now = self.deps.clock()
        return newest([s for s in self.deps.store.list_sessions(classroom_id) if s.status_at(now) == "open"], now)

    # ------------------------------------------------------ for the crop path
    def classroom_for_crop(self, classroom_id: str, auto_create: bool) -> Classroom | None:
        """The registered classroom; if absent and ``auto_create``, create it (counted
        ``classrooms_auto_created``). Never creates one whose id breaks the id rule."""
        store = self.deps.store
        classroom = store.get_classroom(classroom_id)
        if classroom is not None or not auto_create or not is_id(classroom_id):
            return classroom
        with self._classroom_lock:
            classroom = store.get_classroom(classroom_id)
            if classroom is None:
                classroom = Classroom(
                    classroom_id=classroom_id, name=classroom_id, created_ms=self.deps.clock(), auto_created=True
                )
                try:
                    store.create_classroom(classroom)
                    self.deps.stats.inc("classrooms_auto_created")
                    log_event(log, "classroom_auto_created", classroom_id=classroom_id)
                except Conflict:
                    classroom = store.get_classroom(classroom_id)
        return classroom

    def session_for_crop(self, classroom_id: str, auto_open: bool, taken_ms: int | None = None) -> Session | None:
        """The session a crop belongs to: the one that was open at ``taken_ms`` and has ended
        since (a crop arriving late), else the session open now; if none and ``auto_open``, a new
        one (counted ``sessions_auto_opened``)."""
        now = self.deps.clock()
        sessions = self.deps.store.list_sessions(classroom_id)
        if taken_ms is not None:
            ended = newest([s for s in sessions if _open_then_ended(s, taken_ms, now)], now)
            if ended is not None:
                return ended
        session = newest([s for s in sessions if s.status_at(now) == "open"], now)
        if session is not None or not auto_open:
            return session
        with self._session_lock:
            session = self.current_session(classroom_id)
            if session is None:
                now = self.deps.clock()
                session = Session(
                    session_id=new_id()[:16],
                    classroom_id=classroom_id,
                    name=f"{classroom_id} {iso(now)} (auto)",
                    created_ms=now,
                    starts_ms=now,
                )
                self.deps.store.create_session(session)
                self.deps.stats.inc("sessions_auto_opened")
                log_event(log, "session_opened", session_id=session.session_id, classroom_id=classroom_id, auto=True)
        return session.resolved(self.deps.clock())
