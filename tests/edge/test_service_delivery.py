"""At-least-once delivery of face crops from the running edge: crops wait in the outbox while the
cloud is absent, are resent until a RESULT names them, survive an edge restart, and a retryable
error keeps them while a permanent one does not. Real ZeroMQ sockets on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.images import encode_jpeg
from common.protocol import Message, MessageType, make_image_message
from common.transport import Receiver
from edge.faces import FaceFinder
from edge.service import EdgeService
from tests.conftest import assert_nothing_within, wait_until
from tests.edge.test_service import SlowDetector, settings


def free_address() -> str:
    probe = Receiver("tcp://127.0.0.1:*", kind="router")
    address = probe.bound_address
    probe.close()
    return address


def edge(yunet_model: Path, address: str, **overrides: object) -> EdgeService:
    # No person boxes: every face is a subject; classroom.gif's faces are 11-20 px, so the gate is lowered.
    return EdgeService(
        settings(**{"cloud_address": address, "min_face_px": 10, "resend_timeout_s": 0.3, **overrides}),
        detector=SlowDetector(0.0),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    )


def feed(service: EdgeService, frames: list[np.ndarray], first: int = 0) -> None:
    """Frames ``first``, ``first + 1``, ... of the camera, 70 ms apart."""
    (processor,) = service.processors
    for i, frame in enumerate(frames, start=first):
        msg = make_image_message(MessageType.FRAME, encode_jpeg(frame), 480, 270, "cam-1", "room-1", seq=i)
        msg.header.stamp("captured", 1_000_000 + 70 * i)
        service.handle(processor, msg)


def answer(cloud: Receiver, crop: Message, status: str = "unknown", **meta: object) -> None:
    header = crop.header.derive(
        MessageType.RESULT,
        meta={"ack_of": crop.header.msg_id, "track_id": crop.header.meta["track_id"], "status": status,
              "reason": "no_match", **meta},
    )
    assert cloud.reply(cloud.last_peer or b"", Message(header=header))


def receive(cloud: Receiver, count: int, timeout_s: float = 10.0) -> list[Message]:
    got: list[Message] = []
    wait_until(lambda: (m := cloud.recv(timeout_ms=50)) is not None and got.append(m) is None and len(got) >= count,
               timeout=timeout_s, message=f"{count} crops not received")
    return got


def test_crops_wait_for_an_absent_cloud_are_resent_until_answered_then_never_again(yunet_model, classroom_frames):
    address = free_address()
    service = edge(yunet_model, address)
    cloud = None
    try:
        feed(service, classroom_frames[:2])
        crops_queued = len(service.outbox)
        assert crops_queued == 4  # four faces, one crop each, while nobody listens
        service.start()
        wait_until(lambda: service.metrics.count("uplink_busy") > 0, message="the uplink never tried")
        assert len(service.outbox) == 4 and service.metrics.count("crops_transmitted") == 0

        cloud = Receiver(address, kind="router")  # the cloud comes up
        first = receive(cloud, 4)
        ids = {m.header.msg_id for m in first}
        assert len(ids) == 4
        again = receive(cloud, 4)  # no RESULT: each crop is sent again, same message id
        assert {m.header.msg_id for m in again} == ids and service.metrics.count("crops_resent") >= 4
        for crop in again:
            answer(cloud, crop)
        wait_until(lambda: len(service.outbox) == 0, message="answered crops still held")
        while cloud.recv(timeout_ms=100) is not None:  # copies already on the wire before the answers
            pass
        assert_nothing_within(lambda: cloud.recv(timeout_ms=50), 1.0, "an answered crop was sent again")
        assert service.metrics.count("results_unknown") == 4
    finally:
        service.stop()
        if cloud is not None:
            cloud.close()


def test_a_retryable_error_keeps_the_crop_and_its_track_waiting_a_permanent_one_does_not(
    yunet_model, classroom_frames
):
    cloud = Receiver("tcp://127.0.0.1:*", kind="router")
    service = edge(yunet_model, cloud.bound_address, resend_timeout_s=30)
    try:
        feed(service, classroom_frames[:1])
        service.start()
        retried, dropped, *_ = receive(cloud, 4)
        answer(cloud, retried, "error", reason="throttled", retry=True)
        answer(cloud, dropped, "error", reason="corrupt_image", retry=False)
        wait_until(lambda: service.metrics.count("results_retry_later") == 1 and len(service.outbox) == 3)
        assert service.outbox.holds(retried.header.msg_id) and not service.outbox.holds(dropped.header.msg_id)
        with service.tracks.lock:
            tracks = service.tracks.tracker("cam-1").tracks
            assert tracks[retried.header.meta["track_id"]].pending  # still waiting for its answer
            freed = tracks[dropped.header.meta["track_id"]]
            assert not freed.pending and freed.last_status == "error"
        assert service.metrics.count("results_error") == 2
    finally:
        service.stop()
        cloud.close()


def test_an_edge_restart_resends_the_outbox_and_never_reuses_a_track_id(yunet_model, classroom_frames, tmp_path):
    outbox = tmp_path / "edge" / "outbox.sqlite3"
    address = free_address()
    first = edge(yunet_model, address, outbox_path=outbox)
    feed(first, classroom_frames[:1])
    held = len(first.outbox)
    with first.tracks.lock:
        old_tracks = set(first.tracks.tracker("cam-1").tracks)
    first.stop()  # no cloud ever answered
    assert held == 4

    cloud = Receiver(address, kind="router")
    second = edge(yunet_model, address, outbox_path=outbox).start()
    try:
        assert second.outbox.recovered == 4
        resent = receive(cloud, 4)
        assert {m.header.meta["track_id"] for m in resent} == old_tracks
        for crop in resent:
            answer(cloud, crop)  # answers for tracks this run does not know: still acknowledged
        wait_until(lambda: len(second.outbox) == 0, message="recovered crops not acknowledged")
        feed(second, classroom_frames[:1])
        with second.tracks.lock:
            new_tracks = set(second.tracks.tracker("cam-1").tracks)
        assert new_tracks and min(new_tracks) > max(old_tracks)
    finally:
        second.stop()
        cloud.close()


@pytest.mark.parametrize("held", [True, False])
def test_a_track_waits_while_the_outbox_delivers_its_crop(yunet_model, classroom_frames, held):
    service = edge(yunet_model, free_address(), result_timeout_s=0.1, retry_interval_s=0.05)
    try:
        feed(service, classroom_frames[:1])
        if not held:
            for entry in service.outbox.due(10**15, 100):
                service.outbox.ack(entry.msg_id)  # as if dropped past the outbox's bounds
        before = service.metrics.count("crops_sent")
        feed(service, classroom_frames[1:3], first=1)  # 70 and 140 ms later: past the result timeout
        sent = service.metrics.count("crops_sent") - before
        assert sent == (0 if held else 4)
    finally:
        service.stop()
