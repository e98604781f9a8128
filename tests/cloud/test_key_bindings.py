"""Issue 13, item 9: the forged crop is refused. With CurveZMQ (the default) a well-formed
FACE_CROP from a key that is not registered, or from a registered edge claiming a camera of
another edge or another classroom, records nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq

from cloud.ingest import IngestServer
from cloud.key_bindings import refusal
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.keyring import Registry, RegistryWatch, edge_keys
from common.keys_cli import generate
from common.metrics import Metrics
from common.protocol import Header, Message, MessageType
from common.settings_base import ConfigError
from common.transport import CurveKeys, Sender
from tests.conftest import assert_nothing_within

from .conftest import ImageMatchRecognizer, synthetic_face
from .test_ingest import face_crop, replies, send

CAMERAS = [("cam-1", "room-1", "edge-a"), ("cam-2", "room-2", "edge-b")]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate(tmp_path / "keys", CAMERAS)
    return tmp_path / "keys"


def make_service(tmp_path: Path, **settings: Any) -> AttendanceService:
    cloud = CloudSettings(zmq_bind="tcp://127.0.0.1:*", workers=1, queue_size=8, data_dir=tmp_path, **settings)
    svc = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), ImageMatchRecognizer(),
                            cloud, metrics=Metrics())
    svc.create_student("ada", "Ada")
    svc.enrol_photo("ada", synthetic_face(1))
    for room in ("room-1", "room-2"):
        svc.create_classroom(room, room)
    return svc


def edge_sender(keys: Path, edge: str, address: str) -> Sender:
    _, _, client, _ = edge_keys(keys / "bundles" / f"edge-{edge}")
    return Sender(address, kind="dealer", hwm=100,
                  curve=CurveKeys(client.public, client.secret, server_public=client.server_public))


def crop(msg_id: str, camera: str, classroom: str) -> Message:
    message = face_crop(1, msg_id, camera=camera)  # Ada's face: recognised wherever it is accepted
    message.header.classroom_id = classroom
    return message


def test_the_forged_crop_is_refused(tmp_path: Path, keys: Path) -> None:
    service = make_service(tmp_path, transport="curve", keys_dir=keys / "bundles" / "cloud")
    room1, room2 = service.open_session("room-1"), service.open_session("room-2")
    ingest = IngestServer(service).start()
    edge_a = edge_sender(keys, "edge-a", ingest.bound_address)
    try:
        # Forgeries first, from a registered edge: another edge's camera, another classroom, an unknown camera.
        forged = [crop("f-1", "cam-2", "room-2"), crop("f-2", "cam-1", "room-2"), crop("f-3", "cam-FORGED", "room-1")]
        for message in forged:
            send(edge_a, message)
        answers = {r.header.meta["ack_of"]: r.header.meta for r in replies(edge_a, 3)}
        assert {k: (m["status"], m["reason"], m["retry"]) for k, m in answers.items()} == {
            "f-1": ("error", "camera_of_another_edge", False),
            "f-2": ("error", "classroom_key_mismatch", False),
            "f-3": ("error", "camera_not_registered", False),
        }
        counters = service.metrics()["counters"]
        assert counters["crops_rejected_camera_of_another_edge"] == 1
        assert counters["crops_rejected_camera_not_registered"] == 1
        assert service.attendance_for_session(room1.session_id) == []
        assert service.attendance_for_session(room2.session_id) == []

        # A key nobody registered, and a plain TCP client: no handshake, no reply, nothing recorded.
        public, secret = zmq.curve_keypair()
        cloud_public = Registry.load(keys).cloud
        assert cloud_public
        stranger = Sender(ingest.bound_address, kind="dealer",
                          curve=CurveKeys(public, secret, server_public=cloud_public.encode()))
        plain = Sender(ingest.bound_address, kind="dealer")
        n = iter(range(10_000))

        def forged_reply() -> Message | None:
            for sender in (stranger, plain):
                sender.send(crop(f"s-{next(n)}", "cam-1", "room-1"))
            return stranger.recv(timeout_ms=20) or plain.recv(timeout_ms=20)

        assert_nothing_within(forged_reply, 1.0, "an unregistered client got an answer")
        stranger.close(), plain.close()
        assert service.attendance_for_session(room1.session_id) == []

        # The registered edge, for its own camera and classroom: recorded.
        send(edge_a, crop("ok-1", "cam-1", "room-1"))
        [answer] = replies(edge_a, 1)
        assert answer.header.meta["status"] == "recognised"
        [record] = service.attendance_for_session(room1.session_id)
        assert record.student_id == "ada"
    finally:
        edge_a.close()
        ingest.stop()


def test_other_messages_from_another_edges_camera_are_dropped(tmp_path: Path, keys: Path) -> None:
    service = make_service(tmp_path)
    ingest = IngestServer(service)  # not started: messages go straight to its dispatcher
    ingest.keys_watch = RegistryWatch(keys, Registry.load(keys))
    eos = Message(header=Header(type=MessageType.END_OF_STREAM, camera_id="cam-2", classroom_id="room-2"))
    ingest._dispatch(b"peer", eos, "edge-a")
    assert service.metrics()["counters"]["ingest_refused_camera_of_another_edge"] == 1
    assert service.metrics()["streams_ended_cameras"] == 0
    ingest._dispatch(b"peer", eos, "edge-b")
    assert service.metrics()["streams_ended_cameras"] == 1


def test_refusal_reasons(keys: Path) -> None:
    registry = Registry.load(keys)
    header = Header(type=MessageType.FACE_CROP, camera_id="cam-1", classroom_id="room-1")
    assert refusal(None, None, header) is None  # plain TCP
    assert refusal(registry, "edge-a", header) is None
    assert refusal(registry, None, header)[0] == "no_key_identity"  # type: ignore[index]
    assert refusal(registry, "edge-b", header)[0] == "camera_of_another_edge"  # type: ignore[index]


def test_an_ingest_without_keys_refuses_to_start(tmp_path: Path) -> None:
    service = make_service(tmp_path, transport="curve", keys_dir=tmp_path / "no-keys")
    with pytest.raises(ConfigError, match="rollcall-keys generate.*ROLLCALL_CLOUD_TRANSPORT=plaintext"):
        IngestServer(service).start()


def test_plaintext_ingest_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = make_service(tmp_path, transport="plaintext")
    with caplog.at_level("WARNING", logger="rollcall.cloud.ingest"):
        ingest = IngestServer(service).start()
    ingest.stop()
    assert any(getattr(r, "event", None) == "transport_plaintext" for r in caplog.records)
