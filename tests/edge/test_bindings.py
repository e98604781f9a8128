"""CurveZMQ on the frame socket: only cameras registered to this edge get in, and each camera
speaks only for itself and its classroom (refused frames are counted by reason, never processed)."""

import logging

import pytest

from common.keyring import Registry, RegistryWatch
from common.keys_cli import generate
from common.metrics import Metrics
from common.protocol import Header, MessageType
from common.settings_base import ConfigError
from common.transport import CurveKeys, Sender
from edge.bindings import CameraBindings
from edge.faces import FaceFinder
from edge.service import EdgeService
from tests.conftest import assert_nothing_within, wait_until
from tests.edge.test_service import SlowDetector, settings, tiny_frame

CAMERAS = [("cam-1", "room-1", "edge-a"), ("cam-2", "room-2", "edge-a"), ("cam-9", "room-1", "edge-b")]


@pytest.fixture
def keys(tmp_path):
    generate(tmp_path / "keys", CAMERAS)
    return tmp_path / "keys"


def camera_sender(keys, camera_id, address):
    from common.keyring import camera_keys

    classroom = Registry.load(keys).cameras[camera_id].classroom_id
    k = camera_keys(keys, camera_id, classroom)
    return Sender(address, curve=CurveKeys(k.public, k.secret, server_public=k.server_public))


def frame(camera="cam-1", classroom="room-1", seq=0):
    msg = tiny_frame(camera, seq)
    msg.header.classroom_id = classroom
    return msg


def test_reasons(keys):
    bindings = CameraBindings(Metrics(), logging.getLogger("t"))
    header = Header(type=MessageType.FRAME, camera_id="cam-1", classroom_id="room-1")
    assert bindings.reason(header, None) is None  # plain TCP: nothing to check
    bindings.watch = RegistryWatch(keys, Registry.load(keys))
    assert bindings.reason(header, "cam-1") is None
    assert bindings.reason(header, None) == "no_key_identity"
    assert bindings.reason(header, "cam-2") == "camera_key_mismatch"
    assert bindings.reason(Header(type=MessageType.FRAME, camera_id="cam-1", classroom_id="room-2"), "cam-1") == (
        "classroom_key_mismatch"
    )
    assert not bindings.admit(header, "cam-9") and bindings.metrics.count("frames_refused_camera_key_mismatch") == 1


def test_a_camera_speaks_only_for_itself(keys, yunet_model):
    service = EdgeService(
        settings(transport="curve", keys_dir=keys / "bundles" / "edge-edge-a"),
        detector=SlowDetector(0.0),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    ).start()
    cam1 = camera_sender(keys / "bundles" / "camera-cam-1", "cam-1", service.bound_address)
    other_edge = camera_sender(keys, "cam-9", service.bound_address)  # registered, but to edge-b
    try:
        wait_until(lambda: cam1.send(frame(seq=1)), timeout=5, message="registered camera not connected")
        wait_until(lambda: service.metrics.count("frames_received") == 1, timeout=5, message="frame not received")
        # The same key claiming another camera (registered to this edge) or another classroom.
        for forged in (frame(camera="cam-2", classroom="room-2", seq=2), frame(classroom="room-2", seq=3),
                       frame(camera="cam-FORGED", seq=4)):
            wait_until(lambda forged=forged: cam1.send(forged), timeout=5, message="send queue stays full")
        wait_until(lambda: service.bindings.refused["camera_key_mismatch"] == 2, timeout=5,
                   message=f"forged camera ids not refused: {dict(service.bindings.refused)}")
        wait_until(lambda: service.bindings.refused["classroom_key_mismatch"] == 1, timeout=5,
                   message="forged classroom not refused")
        assert service.metrics.count("frames_refused_camera_key_mismatch") == 2
        assert service.metrics.count("frames_received") == 1
        seqs = iter(range(10, 10_000))

        def other_edge_got_through() -> int:
            other_edge.send(frame(camera="cam-9", seq=next(seqs)))  # refused at the handshake
            return service.metrics.count("frames_received") - 1 + sum(service.bindings.refused.values()) - 3

        assert_nothing_within(other_edge_got_through, 0.5, "a camera of another edge got frames through")
        assert service.metrics.count("receiver_errors") == 0
    finally:
        cam1.close(), other_edge.close()
        service.stop()


def test_an_edge_without_keys_refuses_to_start(tmp_path, yunet_model):
    with pytest.raises(ConfigError, match=r"keys directory .* does not exist: create the keys with `rollcall-keys "
                                          r"generate.*ROLLCALL_EDGE_TRANSPORT=plaintext"):
        EdgeService(settings(transport="curve", keys_dir=tmp_path / "keys"), detector=SlowDetector(0.0),
                    face_finder_factory=lambda: FaceFinder(yunet_model))


def test_plaintext_is_an_opt_in_with_a_warning(yunet_model, caplog):
    with caplog.at_level(logging.WARNING, logger="rollcall.edge"):
        service = EdgeService(settings(transport="plaintext"), detector=SlowDetector(0.0),
                              face_finder_factory=lambda: FaceFinder(yunet_model))
    try:
        assert any(getattr(r, "event", None) == "transport_plaintext" and r.levelno == logging.WARNING
                   for r in caplog.records), [r.__dict__ for r in caplog.records]
    finally:
        service.receiver.close(), service.uplink.close()
