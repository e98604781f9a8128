"""Trusted time and identity (issue 13, item 2): the cloud stamps first-seen and last-seen from its
own clock, clamped to the session, whatever times a FACE_CROP's header claims; a crop for a
classroom nobody registered is refused and creates nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.crop_times import trusted_seen_ms
from cloud.crop_results import PERMANENT_ERRORS
from cloud.records import Session, iso
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics

from .api_support import authed_client
from .conftest import ImageMatchRecognizer, synthetic_face
from .domain_support import T0, MsClock, crop

YEAR_MS = 365 * 24 * 3600 * 1000


@pytest.fixture
def clock() -> MsClock:
    return MsClock()


@pytest.fixture
def recognizer() -> ImageMatchRecognizer:
    return ImageMatchRecognizer()


@pytest.fixture
def svc(tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock) -> AttendanceService:
    service = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), recognizer,
                                CloudSettings(data_dir=tmp_path), metrics=Metrics(), clock=clock)
    service.create_student("ada", "Ada Lovelace")
    service.enrol_photo("ada", synthetic_face(1))
    return service


def forged(image: bytes, **ts: int):
    """A crop whose header claims the given hop times (e.g. ``captured=1``)."""
    message = crop(image)
    message.header.ts.update(ts)
    return message


def test_seen_time_is_the_clamped_receive_time() -> None:
    session = Session("s", "room-1", "S", created_ms=T0, starts_ms=T0, ends_ms=T0 + 60_000)
    assert trusted_seen_ms(T0 + 5, session, T0 + 10) == T0 + 5
    assert trusted_seen_ms(1, session, T0 + 10) == T0  # never before the session started
    assert trusted_seen_ms(T0 + 10 * YEAR_MS, session, T0 + 10) == T0 + 10  # never after now
    assert trusted_seen_ms(T0 + 10 * YEAR_MS, session, T0 + YEAR_MS) == T0 + 60_000  # nor after its end
    open_ended = Session("s", "room-1", "S", created_ms=T0, starts_ms=T0)
    assert trusted_seen_ms(T0 + YEAR_MS, open_ended, T0 + 7) == T0 + 7


def test_captured_1970_is_first_seen_inside_the_session_in_api_and_csv(
    svc: AttendanceService, recognizer: ImageMatchRecognizer, clock: MsClock
) -> None:
    client = authed_client(create_app(service=svc, settings=svc.settings))
    assert client.post("/api/classrooms", json={"classroom_id": "room-1"}).status_code == 201
    session = client.post("/api/sessions", json={"classroom_id": "room-1"}).get_json()
    clock.t = T0 + 2_000
    reply = svc.process_crop(forged(synthetic_face(1), captured=1, edge_sent=2))
    assert (reply.header.meta["status"], reply.header.meta["student_id"]) == ("recognised", "ada")
    clock.t = T0 + 4_000
    stranger = svc.process_crop(forged(synthetic_face(9), captured=1))
    assert stranger.header.meta["status"] == "unknown"

    [record] = client.get(f"/api/sessions/{session['session_id']}/attendance").get_json()["records"]
    assert record["first_seen_ms"] == record["last_seen_ms"] == T0 + 2_000  # the cloud's receive time
    assert session["starts_ms"] <= record["first_seen_ms"] <= clock.t
    [row] = csv.DictReader(io.StringIO(client.get(f"/api/sessions/{session['session_id']}/attendance.csv")
                                       .get_data(as_text=True)))
    assert row["first_seen"] == row["last_seen"] == iso(T0 + 2_000)
    assert not row["first_seen"].startswith("1970")
    [unknown] = client.get("/api/unknown-faces").get_json()["unknown_faces"]
    assert unknown["seen_ms"] == T0 + 4_000
    # Latency metrics may read header times, but a forged one is not observed.
    assert svc.metrics()["counters"]["latency_implausible"] >= 1


def test_far_future_capture_does_not_extend_last_seen(svc: AttendanceService, clock: MsClock) -> None:
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1", ends_at=T0 + 3_600_000)
    clock.t = T0 + 1_000
    svc.process_crop(forged(synthetic_face(1), captured=T0 + 10 * YEAR_MS))
    clock.t = T0 + 2_000
    # Even a forged cloud_received (a direct caller of process_crop) is clamped to now.
    svc.process_crop(forged(synthetic_face(1, noise=2), captured=T0 + 10 * YEAR_MS, cloud_received=T0 + 10 * YEAR_MS))
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.first_seen_ms, record.last_seen_ms, record.sightings) == (T0 + 1_000, T0 + 2_000, 2)
    assert record.last_seen_ms <= min(clock.t, T0 + 3_600_000)


def test_video_position_still_comes_from_the_source(svc: AttendanceService, clock: MsClock) -> None:
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    clock.t = T0 + 1_000
    message = crop(synthetic_face(1), camera_ms=83_400)
    message.header.ts["captured"] = 1
    svc.process_crop(message)
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.first_seen_ms, record.first_source_ms) == (T0 + 1_000, 83_400)


def test_unregistered_classroom_is_refused_and_nothing_is_created(
    tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock
) -> None:
    assert CloudSettings().auto_create_classrooms is False  # the default
    # Even with auto-open on, an unregistered classroom gets no classroom and no session.
    svc = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path / "ev"), recognizer,
                            CloudSettings(data_dir=tmp_path, auto_open_session=True), metrics=Metrics(), clock=clock)
    svc.create_student("ada", "Ada Lovelace")
    svc.enrol_photo("ada", synthetic_face(1))
    searches = recognizer.calls["search"]
    reply = svc.process_crop(crop(synthetic_face(1), classroom="room-forged", camera="cam-FORGED"))
    meta = reply.header.meta
    assert (meta["status"], meta["reason"], meta["retry"], meta["session_id"]) == (
        "error", "unknown_classroom", False, None)
    assert "unknown_classroom" in PERMANENT_ERRORS
    assert svc.metrics()["counters"]["crops_rejected_unknown_classroom"] == 1
    assert svc.list_classrooms() == [] and svc.list_sessions() == []
    assert svc.list_unknown_faces(None) == [] and recognizer.calls["search"] == searches
    assert not any(p.is_file() for p in (tmp_path / "ev").rglob("*") if "crop" in p.name)


def test_auto_create_is_an_explicit_opt_in(tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock) -> None:
    svc = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), recognizer,
                            CloudSettings(data_dir=tmp_path, auto_create_classrooms=True), metrics=Metrics(), clock=clock)
    reply = svc.process_crop(crop(synthetic_face(1), classroom="lab_1"))
    assert reply.header.meta["reason"] == "no_open_session"
    assert svc.get_classroom("lab_1").auto_created


def test_over_the_wire_header_times_are_overwritten_and_unknown_classroom_refused(tmp_path: Path) -> None:
    """Through the real ZeroMQ ingest: a sender cannot pick its seen time, even by claiming
    ``cloud_received`` itself, nor create a classroom."""
    import time

    from cloud.ingest import IngestServer
    from common.protocol import MessageType, make_image_message
    from common.transport import Sender

    from tests.conftest import wait_until

    settings = CloudSettings(zmq_bind="tcp://127.0.0.1:*", workers=1, queue_size=8, data_dir=tmp_path)
    svc = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), ImageMatchRecognizer(),
                            settings, metrics=Metrics())
    svc.create_student("ada", "Ada")
    svc.enrol_photo("ada", synthetic_face(1))
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    lie = {"captured": 1, "edge_sent": 2, "cloud_received": 3}
    server = IngestServer(svc).start()
    edge = Sender(server.bound_address, kind="dealer", hwm=100)
    try:
        for classroom, msg_id in (("room-1", "crop-1"), ("room-forged", "crop-2")):
            message = make_image_message(MessageType.FACE_CROP, synthetic_face(1, noise=4), 96, 96, "cam-FORGED",
                                         classroom, msg_id=msg_id, meta={"track_id": 3}, ts=dict(lie))
            wait_until(lambda m=message: edge.send(m), timeout=5, interval=0.01, message="could not send")
        got: dict[str, dict] = {}
        end = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < end:
            reply = edge.recv(timeout_ms=100)
            if reply is not None:
                got[reply.header.meta["ack_of"]] = reply.header.meta
    finally:
        edge.close()
        server.stop()
    assert got["crop-1"]["status"] == "recognised"
    assert (got["crop-2"]["status"], got["crop-2"]["reason"], got["crop-2"]["retry"]) == (
        "error", "unknown_classroom", False)
    [record] = svc.attendance_for_session(session.session_id)
    assert session.starts_ms <= record.first_seen_ms <= int(time.time() * 1000)
    assert [c.classroom_id for c in svc.list_classrooms()] == ["room-1"]
