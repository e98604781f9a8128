"""cloud.sessions.Sessions: classrooms, the overlap rule and the crop path's auto-create/auto-open."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.sessions import Sessions

from .conftest import ImageMatchRecognizer
from .domain_support import T0, MsClock, counters, make_deps


@pytest.fixture
def clock() -> MsClock:
    return MsClock()


@pytest.fixture
def sessions(tmp_path: Path, clock: MsClock) -> Sessions:
    return Sessions(make_deps(tmp_path, ImageMatchRecognizer(), clock))


def test_classrooms(sessions: Sessions) -> None:
    room = sessions.create_classroom("room-1")
    assert (room.name, room.auto_created) == ("room-1", False)
    with pytest.raises(Conflict):
        sessions.create_classroom("room-1")
    for bad in ("_lab", "-x", ".hidden", "room 2"):
        with pytest.raises(InvalidInput):
            sessions.create_classroom(bad)
    with pytest.raises(NotFound):
        sessions.get_classroom("room-9")
    assert [c.classroom_id for c in sessions.list_classrooms()] == ["room-1"]


def test_overlap_rule(sessions: Sessions, clock: MsClock) -> None:
    sessions.create_classroom("room-1")
    h = 3_600_000
    first = sessions.open_session("room-1", starts_at=T0 + h, ends_at=T0 + 2 * h)
    assert first.status == "scheduled"
    with pytest.raises(Conflict, match="overlapping"):
        sessions.open_session("room-1", starts_at=T0 + h + 1, ends_at=T0 + 3 * h)
    with pytest.raises(Conflict):
        sessions.open_session("room-1")  # open-ended from now reaches the scheduled one
    sessions.open_session("room-1", starts_at=T0 + 2 * h, ends_at=T0 + 3 * h)  # adjacent is fine
    with pytest.raises(InvalidInput, match="ends_at"):
        sessions.open_session("room-1", starts_at=T0 + 5 * h, ends_at=T0 + 4 * h)
    assert sessions.close_session(first.session_id).status == "closed"  # cancelled
    clock.t = T0 + h + 10
    assert sessions.current_session("room-1") is None


def test_classroom_for_crop(sessions: Sessions) -> None:
    assert sessions.classroom_for_crop("lab_1", auto_create=False) is None
    created = sessions.classroom_for_crop("lab_1", auto_create=True)
    assert created is not None and created.auto_created
    assert sessions.classroom_for_crop("lab_1", auto_create=True) == created
    assert counters(sessions.deps)["classrooms_auto_created"] == 1
    for bad in ("_lab", "-x", ".hidden", "Room 101"):
        assert sessions.classroom_for_crop(bad, auto_create=True) is None
    assert [c.classroom_id for c in sessions.list_classrooms()] == ["lab_1"]


def test_session_for_crop(sessions: Sessions) -> None:
    sessions.create_classroom("room-1")
    assert sessions.session_for_crop("room-1", auto_open=False) is None
    opened = sessions.session_for_crop("room-1", auto_open=True)
    assert opened is not None and opened.status == "open" and opened.name.endswith("(auto)")
    assert sessions.session_for_crop("room-1", auto_open=True).session_id == opened.session_id
    assert counters(sessions.deps)["sessions_auto_opened"] == 1
