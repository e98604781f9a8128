"""cloud.review.UnknownReview: assigning, dismissing and purging unknown faces."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.attendance import Attendance
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.records import UnknownFace
from cloud.review import UnknownReview
from cloud.roster import Roster
from cloud.sessions import Sessions
from cloud.storage.evidence import evidence_ref_for

from .conftest import ImageMatchRecognizer, synthetic_face
from .domain_support import T0, MsClock, counters, make_deps

DAY = 86_400_000


@pytest.fixture
def clock() -> MsClock:
    return MsClock()


@pytest.fixture
def review(tmp_path: Path, clock: MsClock) -> UnknownReview:
    deps = make_deps(tmp_path, ImageMatchRecognizer(), clock, unknown_retention_days=30)
    roster, sessions = Roster(deps), Sessions(deps)
    return UnknownReview(deps, roster, Attendance(deps, roster, sessions))


def add_unknown(review: UnknownReview, unknown_id: str, session_id: str | None, seen_ms: int) -> UnknownFace:
    ref = evidence_ref_for(f"crop:{unknown_id}", "jpeg")
    review.deps.evidence.put(ref, synthetic_face(3))
    unknown = UnknownFace(unknown_id=unknown_id, session_id=session_id, classroom_id="room-1", camera_id="cam-1",
                          seen_ms=seen_ms, evidence_ref=ref)
    assert review.deps.store.add_unknown(unknown)
    return unknown


def test_assign_records_attendance_and_can_enrol(review: UnknownReview) -> None:
    review.roster.create_student("ada", "Ada")
    review.attendance.sessions.create_classroom("room-1")
    session = review.attendance.sessions.open_session("room-1")
    add_unknown(review, "a1", session.session_id, T0)
    add_unknown(review, "b2", None, T0)
    record = review.assign_unknown("a1", "ada", enrol=True)
    assert (record.student_id, record.name, record.session_id) == ("ada", "Ada", session.session_id)
    assert len(review.roster.list_faces("ada")) == 1
    assert review.get_unknown("a1").status == "assigned"
    with pytest.raises(Conflict, match="already assigned"):
        review.assign_unknown("a1", "ada")
    with pytest.raises(Conflict, match="outside any session"):
        review.assign_unknown("b2", "ada")
    with pytest.raises(NotFound):
        review.assign_unknown("b2", "nobody")
    assert [u.unknown_id for u in review.list_unknown_faces()] == ["b2"]
    assert review.dismiss_unknown("b2").status == "dismissed"
    with pytest.raises(Conflict):
        review.dismiss_unknown("b2")
    with pytest.raises(InvalidInput):
        review.list_unknown_faces("maybe")


def test_purge_keeps_assigned_and_recent(review: UnknownReview, clock: MsClock) -> None:
    review.roster.create_student("ada", "Ada")
    review.attendance.sessions.create_classroom("room-1")
    session = review.attendance.sessions.open_session("room-1")
    old_pending = add_unknown(review, "p1", session.session_id, T0 - 31 * DAY)
    add_unknown(review, "d1", session.session_id, T0 - 31 * DAY)
    add_unknown(review, "a1", session.session_id, T0 - 31 * DAY)
    add_unknown(review, "r1", session.session_id, T0 - 29 * DAY)
    review.dismiss_unknown("d1")
    review.assign_unknown("a1", "ada")
    assert review.purge_unknown_faces() == 2
    assert {u.unknown_id for u in review.list_unknown_faces(None)} == {"a1", "r1"}
    assert counters(review.deps)["unknown_purged"] == 2
    with pytest.raises(NotFound):
        review.deps.evidence.get(old_pending.evidence_ref)
    assert review.purge_unknown_faces() == 0
