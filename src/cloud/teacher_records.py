"""Plain data objects of the teacher workflows: courses, their rosters, weekly timetable slots,
attendance marks (a teacher's change of a student's state) and the per-session roll.

Times are epoch milliseconds (``*_ms``); slot times are minutes after midnight in the school's
time zone (``ROLLCALL_CLOUD_SCHOOL_TIMEZONE``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import _Dict

#: Every attendance state. ``visitor`` is a recognised student who is not on the course's roster.
STATES = ("present_camera", "present_manual", "late", "excused", "absent")
#: The states a teacher may set by hand.
MARK_STATES = ("present_manual", "late", "excused", "absent")
#: The states counted as attending.
PRESENT_STATES = frozenset({"present_camera", "present_manual", "late"})
VISITOR = "visitor"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Course(_Dict):
    """A class section: a name, the classroom it meets in (None until set) and enrolled students."""

    course_id: str
    name: str
    classroom_id: str | None = None
    created_ms: int = 0


@dataclass(frozen=True)
class CourseMember(_Dict):
    """One student on a course's roster, from ``added_ms`` until ``removed_ms`` (None = still on it).
    Kept after removal so the rolls of past sessions do not change."""

    course_id: str
    student_id: str
    added_ms: int = 0
    removed_ms: int | None = None

    def member_during(self, starts_ms: int, ends_ms: int | None) -> bool:
        """On the roster at some time in [starts_ms, ends_ms) (None = still going)."""
        added_before_end = ends_ms is None or self.added_ms < ends_ms
        return added_before_end and (self.removed_ms is None or self.removed_ms > starts_ms)


@dataclass(frozen=True)
class TimetableSlot(_Dict):
    """A weekly recurring meeting of a course: ``weekday`` 0 = Monday; minutes after midnight."""

    slot_id: str
    course_id: str
    weekday: int
    start_min: int
    end_min: int
    created_ms: int = 0

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["day"] = WEEKDAYS[self.weekday]
        out["start"] = f"{self.start_min // 60:02d}:{self.start_min % 60:02d}"
        out["end"] = f"{self.end_min // 60:02d}:{self.end_min % 60:02d}"
        return out


@dataclass(frozen=True)
class AttendanceMark(_Dict):
    """A teacher's change of one student's state in one session (append-only history; the newest
    mark of a (session, student) wins over what the cameras saw)."""

    session_id: str
    mark_id: str
    student_id: str
    state: str
    actor: str
    marked_ms: int
    reason: str = ""
    previous_state: str | None = None
