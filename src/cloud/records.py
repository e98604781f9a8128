"""Plain data objects the service returns (each has ``to_dict()`` for JSON).

All times are epoch milliseconds (``*_ms``); ``to_dict`` adds ISO 8601 UTC copies
of session times for people.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from common.rules import ID_RE

#: Ids of students and classrooms: safe in URLs and as Rekognition ExternalImageId (the one
#: rule, :data:`common.rules.ID_PATTERN`, compiled).
ID_PATTERN = ID_RE

SESSION_STATUSES = ("scheduled", "open", "closed")
UNKNOWN_STATUSES = ("pending", "assigned", "dismissed")


def iso(ms: int | None) -> str | None:
    """ISO 8601 UTC text of epoch ms (None stays None)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Dict:
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        # every subclass is a dataclass; this mixin itself is not, which mypy cannot see
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Student(_Dict):
    student_id: str
    name: str
    email: str | None = None
    created_ms: int = 0


@dataclass(frozen=True)
class Enrolment(_Dict):
    """One face of a student indexed in the Rekognition collection."""

    face_id: str
    student_id: str
    image_id: str | None = None
    confidence: float | None = None
    bounding_box: dict[str, float] | None = None
    photo_ref: str | None = None
    created_ms: int = 0


@dataclass(frozen=True)
class Classroom(_Dict):
    classroom_id: str
    name: str
    created_ms: int = 0
    auto_created: bool = False


@dataclass(frozen=True)
class Session(_Dict):
    """A class session. Unscheduled sessions start when opened and end when closed;
    scheduled ones are open while now is in [starts_ms, ends_ms) (or until closed).

    ``status`` is resolved against the clock by the service when returned. ``course_id``: the
    course (class section) the session is for, None for a session of the classroom alone.
    """

    session_id: str
    classroom_id: str
    name: str
    created_ms: int
    starts_ms: int
    ends_ms: int | None = None
    closed_ms: int | None = None
    scheduled: bool = False
    status: str = "open"
    course_id: str | None = None

    def end_ms(self) -> int | None:
        """When the session stops being open (None = open-ended)."""
        ends = [t for t in (self.ends_ms, self.closed_ms) if t is not None]
        return min(ends) if ends else None

    def status_at(self, now: int) -> str:
        """``scheduled`` before it starts, ``open`` during, ``closed`` after."""
        end = self.end_ms()
        if end is not None and now >= end:
            return "closed"
        if now < self.starts_ms:
            return "scheduled"
        return "open"

    def overlaps(self, starts_ms: int, ends_ms: int | None) -> bool:
        """True if [starts_ms, ends_ms) intersects this session's interval."""
        my_end = self.end_ms()
        if my_end is not None and my_end <= self.starts_ms:
            return False  # cancelled before it started
        a_before_b = my_end is not None and my_end <= starts_ms
        b_before_a = ends_ms is not None and ends_ms <= self.starts_ms
        return not (a_before_b or b_before_a)

    def resolved(self, now: int) -> Session:
        """A copy whose ``status`` reflects ``now``."""
        return dataclasses.replace(self, status=self.status_at(now))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["starts_at"] = iso(self.starts_ms)
        out["ends_at"] = iso(self.ends_ms)
        out["closed_at"] = iso(self.end_ms()) if self.status == "closed" else None
        return out


@dataclass(frozen=True)
class Sighting(_Dict):
    """One recognised face crop counted towards an attendance record.

    ``sighting_id`` is the idempotency key (the crop's msg_id, or
    ``assign:<unknown_id>`` for a manual assignment).

    ``source_ms`` is the position in the camera's own timeline (for a replayed
    video: ms into the file), from the crop's ``meta.camera_ms``. It is kept only
    when it is plausibly a video position, an int in [0, 10**11) (about 3 years);
    live cameras send epoch ms there, which is left out (None).
    """

    sighting_id: str
    session_id: str
    student_id: str
    camera_id: str
    seen_ms: int
    similarity: float | None
    evidence_ref: str | None = None
    emotion: str | None = None
    trace_id: str | None = None
    face_id: str | None = None
    source_ms: int | None = None


@dataclass(frozen=True)
class AttendanceRecord(_Dict):
    """A student's presence in one session (aggregated sightings).

    ``first_source_ms`` / ``last_source_ms``: min / max ``Sighting.source_ms`` over
    the sightings that have one (seconds into a recorded video); None if none has.
    """

    session_id: str
    student_id: str
    first_seen_ms: int
    last_seen_ms: int
    camera_id: str
    best_similarity: float | None
    evidence_ref: str | None
    sightings: int
    emotion: str | None = None
    name: str | None = None
    first_source_ms: int | None = None
    last_source_ms: int | None = None


@dataclass(frozen=True)
class UnknownFace(_Dict):
    """A face crop that matched nobody, kept for review."""

    unknown_id: str
    session_id: str | None
    classroom_id: str
    camera_id: str
    seen_ms: int
    evidence_ref: str
    status: str = "pending"
    student_id: str | None = None
    trace_id: str | None = None
    msg_id: str | None = None
    reason: str = "no_match"
    resolved_ms: int | None = None


@dataclass(frozen=True)
class RecognitionOutcome(_Dict):
    """What the recognizer said about one crop."""

    status: str  # recognised | unknown | no_face | error
    student_id: str | None = None
    similarity: float | None = None
    runner_up_similarity: float | None = None  # best similarity of any other student
    candidate_id: str | None = None  # the student of an unconfirmed match (status unknown)
    face_id: str | None = None
    reason: str | None = None
    detail: str | None = None
    emotion: str | None = None
    attempts: int = 1
