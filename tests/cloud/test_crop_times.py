"""Crops that reach the cloud after their session ended (cloud.crop_times): filed under the
session that was open when the edge received their frame, within the grace and clock bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.crop_times import MAX_EDGE_CLOCK_AHEAD_MS, edge_taken_ms, is_late, trusted_seen_ms
from cloud.records import Session
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics

from .conftest import ImageMatchRecognizer, synthetic_face
from .domain_support import T0, MsClock, crop

HOUR_MS = 3_600_000


def service(tmp_path: Path, clock: MsClock, **settings: object) -> AttendanceService:
    svc = AttendanceService(
        SQLiteStore(tmp_path / "db.sqlite3"),
        LocalEvidenceStore(tmp_path),
        ImageMatchRecognizer(),
        CloudSettings(data_dir=tmp_path, **settings),
        metrics=Metrics(),
        clock=clock,
    )
    for n, student in enumerate(("ada", "bob"), start=1):
        svc.create_student(student, student.title())
        svc.enrol_photo(student, synthetic_face(n))
    svc.create_classroom("room-1", "Room 1")
    return svc


def taken_at(face: int, edge_received: int, track: int = 7):
    """A crop of synthetic face ``face`` whose frame the edge received at ``edge_received``."""
    message = crop(synthetic_face(face, noise=1), track=track)
    message.header.ts["edge_received"] = edge_received
    return message


def test_edge_taken_ms_is_bounded() -> None:
    received, grace = T0, HOUR_MS
    assert edge_taken_ms({"edge_received": T0 - 5_000}, received, grace) == T0 - 5_000
    assert edge_taken_ms({"edge_received": T0 + 2_000}, received, grace) == T0  # a clock a little ahead
    assert edge_taken_ms({"edge_received": T0 + MAX_EDGE_CLOCK_AHEAD_MS + 1}, received, grace) is None
    assert edge_taken_ms({"edge_received": T0 - HOUR_MS - 1}, received, grace) is None  # past the grace
    assert edge_taken_ms({"edge_received": T0 - 5_000}, received, 0) is None  # grace 0: off
    for bad in (None, "123", 1.5, True):
        assert edge_taken_ms({"edge_received": bad}, received, grace) is None
    assert edge_taken_ms({}, received, grace) is None


def test_a_late_crop_is_seen_at_the_edge_time_inside_its_session() -> None:
    session = Session("s", "room-1", "S", created_ms=T0, starts_ms=T0, closed_ms=T0 + 60_000)
    received = T0 + 120_000
    assert is_late(session, received) and not is_late(session, T0 + 59_999)
    assert trusted_seen_ms(received, session, received, taken_ms=T0 + 30_000) == T0 + 30_000
    assert trusted_seen_ms(received, session, received, taken_ms=None) == T0 + 60_000  # clamped to its end
    # Not late: the edge's time is not used, the cloud's receive time is.
    open_session = Session("s", "room-1", "S", created_ms=T0, starts_ms=T0)
    assert trusted_seen_ms(T0 + 50, open_session, T0 + 50, taken_ms=T0 + 10) == T0 + 50


def test_crops_held_through_an_outage_count_in_the_session_they_were_taken_in(tmp_path: Path) -> None:
    clock = MsClock()
    svc = service(tmp_path, clock)
    session = svc.open_session("room-1")
    clock.t = T0 + 50 * 60_000
    svc.close_session(session.session_id)
    # The cloud was down for the last 20 minutes of the class: the edge delivers its outbox now.
    clock.t = T0 + 70 * 60_000
    reply = svc.process_crop(taken_at(1, edge_received=T0 + 40 * 60_000))
    meta = reply.header.meta
    assert (meta["status"], meta["student_id"], meta["session_id"]) == ("recognised", "ada", session.session_id)
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.student_id, record.first_seen_ms) == ("ada", T0 + 40 * 60_000)
    assert svc.metrics()["counters"]["crops_late"] == 1
    # A crop taken after the class ended still has no session.
    reply = svc.process_crop(taken_at(2, edge_received=T0 + 60 * 60_000, track=8))
    assert (reply.header.meta["status"], reply.header.meta["reason"]) == ("unknown", "no_open_session")
    assert [r.student_id for r in svc.attendance_for_session(session.session_id)] == ["ada"]


def back_to_back(tmp_path: Path) -> tuple[AttendanceService, Session, Session]:
    """Two classes in room-1, the second opened as the first closed (T0 + 1 h); now 5 s later."""
    clock = MsClock()
    svc = service(tmp_path, clock)
    first = svc.open_session("room-1", name="first")
    clock.t = T0 + HOUR_MS
    svc.close_session(first.session_id)
    second = svc.open_session("room-1", name="second")
    clock.t = T0 + HOUR_MS + 5_000
    return svc, first, second


def test_back_to_back_classes_keep_their_own_students(tmp_path: Path) -> None:
    svc, first, second = back_to_back(tmp_path)
    # Ada's crop was taken in the first class and delivered during the second; Bob's in the second.
    ada = svc.process_crop(taken_at(1, edge_received=T0 + HOUR_MS - 2_000))
    bob = svc.process_crop(taken_at(2, edge_received=T0 + HOUR_MS + 3_000, track=8))
    assert ada.header.meta["session_id"] == first.session_id
    assert bob.header.meta["session_id"] == second.session_id
    assert [r.student_id for r in svc.attendance_for_session(first.session_id)] == ["ada"]
    assert [r.student_id for r in svc.attendance_for_session(second.session_id)] == ["bob"]


@pytest.mark.parametrize(
    "edge_received",
    [T0 + 10 * HOUR_MS, T0 - 3 * HOUR_MS, None],
    ids=["clock-far-ahead", "older-than-grace", "no-stamp"],
)
def test_an_implausible_edge_time_falls_back_to_the_session_open_now(tmp_path: Path, edge_received: int | None) -> None:
    svc, _, second = back_to_back(tmp_path)
    message = crop(synthetic_face(1, noise=1))
    if edge_received is not None:
        message.header.ts["edge_received"] = edge_received
    assert svc.process_crop(message).header.meta["session_id"] == second.session_id
    assert "crops_late" not in svc.metrics()["counters"]


def test_grace_zero_keeps_only_the_session_open_now(tmp_path: Path) -> None:
    clock = MsClock()
    svc = service(tmp_path, clock, late_crop_grace_s=0)
    session = svc.open_session("room-1")
    clock.t = T0 + 60_000
    svc.close_session(session.session_id)
    clock.t = T0 + 120_000
    reply = svc.process_crop(taken_at(1, edge_received=T0 + 30_000))
    assert reply.header.meta["reason"] == "no_open_session"
    assert svc.attendance_for_session(session.session_id) == []
