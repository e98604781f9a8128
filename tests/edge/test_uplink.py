"""The edge uplink over a real ZeroMQ link: a crop that can never be encoded is dropped from the
outbox, counted and logged, and never stalls the crops behind it (issue 13, item 5)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

import common.transport as transport
from common.metrics import Metrics
from common.protocol import Header, Message, MessageType, ProtocolError, make_image_message
from common.transport import Receiver, Sender
from edge.outbox import Outbox
from edge.tracker import TrackRegistry
from edge.uplink import Uplink

from tests.conftest import wait_until


def crop(msg_id: str) -> Message:
    message = make_image_message(MessageType.FACE_CROP, b"\xff\xd8jpeg\xff\xd9", 64, 64, "cam-1", "room-1")
    message.header.msg_id = msg_id
    return message




@pytest.fixture
def unencodable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages whose msg_id starts with ``bad-`` cannot be encoded by the link."""
    real_encode = transport.encode

    def encode(message: Message, limits: Any = transport.DEFAULT_LIMITS) -> list[bytes]:
        if message.header.msg_id.startswith("bad-"):
            raise ProtocolError("oversize_field", "ts has more than 23 hops not in HOPS")
        return real_encode(message, limits)

    monkeypatch.setattr(transport, "encode", encode)


@pytest.fixture
def link() -> Any:
    router = Receiver("tcp://127.0.0.1:*", kind="router")
    sender = Sender(router.bound_address, kind="dealer", hwm=1000)
    yield router, sender
    sender.close()
    router.close()


def test_200_unencodable_crops_are_dropped_and_the_next_goes_at_once(
    unencodable: None, link: Any, caplog: pytest.LogCaptureFixture
) -> None:
    router, sender = link
    metrics = Metrics()
    outbox = Outbox(":memory:")
    uplink = Uplink(sender, outbox, TrackRegistry(0.3, 5000), metrics, logging.getLogger("rollcall.edge.test"))
    caplog.set_level(logging.DEBUG, logger="rollcall")
    # the link must be up first (IMMEDIATE: nothing is queued for an absent peer)
    wait_until(lambda: sender.send(crop("warm-up")), interval=0.01)
    assert router.recv(timeout_ms=2000) is not None
    for i in range(200):
        outbox.add(crop(f"bad-{i}"), i, now_ms=1)
    outbox.add(crop("good"), 999, now_ms=2)
    started = time.monotonic()
    for _ in range(20):  # the uplink thread's passes (32 crops each)
        uplink._queued.set()
        uplink.send_due()
    got = router.recv(timeout_ms=1000)
    elapsed = time.monotonic() - started
    assert got is not None and got.header.msg_id == "good"
    assert elapsed < 1.0, f"the valid crop took {elapsed:.2f} s behind 200 unencodable ones"
    assert metrics.count("outbox_dropped_unencodable") == 200
    assert metrics.count("crops_transmitted") == 1
    assert metrics.count("crop_bytes_transmitted") == len(b"\xff\xd8jpeg\xff\xd9")  # the good crop only
    assert metrics.count("uplink_errors") == 0
    assert len(outbox) == 1 and outbox.holds("good")  # sent, waiting for its RESULT
    dropped = [r for r in caplog.records if getattr(r, "event", None) == "crop_dropped"]
    assert len(dropped) == 200 and all(getattr(r, "trace_id", None) for r in dropped)
    assert all("unencodable" in r.reason for r in dropped)  # type: ignore[attr-defined]


def test_an_unencodable_end_of_stream_does_not_lose_the_others(unencodable: None, link: Any) -> None:
    router, sender = link
    metrics = Metrics()
    uplink = Uplink(sender, Outbox(":memory:"), TrackRegistry(0.3, 5000), metrics, logging.getLogger("rollcall.edge.test"))
    wait_until(lambda: sender.send(crop("warm-up")), interval=0.01)
    assert router.recv(timeout_ms=2000) is not None
    for msg_id in ("bad-1", "eos-1", "bad-2", "eos-2"):
        uplink.queue_eos(Message(header=Header(type=MessageType.END_OF_STREAM, camera_id="cam-1",
                                               classroom_id="room-1", msg_id=msg_id)))
    uplink._send_eos()
    received = [router.recv(timeout_ms=1000) for _ in range(2)]
    assert [m.header.msg_id for m in received if m is not None] == ["eos-1", "eos-2"]
    assert metrics.count("eos_unencodable") == 2 and metrics.count("eos_forwarded") == 2
    assert uplink._eos_retry == []


def test_a_held_crop_is_stamped_when_queued_so_its_hold_is_not_transport(
    link: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A crop the crop policy kept goes out frames after its own frame's ``detect_end``: the
    uplink stamps ``edge_queued`` (stored in the outbox, sent on the wire) and logs the hold."""
    from edge.pipeline import Outgoing
    from edge.tracker import Candidate, Track

    router, sender = link
    outbox = Outbox(":memory:")
    uplink = Uplink(sender, outbox, TrackRegistry(0.3, 5000), Metrics(), logging.getLogger("rollcall.edge.test"))
    caplog.set_level(logging.DEBUG, logger="rollcall")
    wait_until(lambda: sender.send(crop("warm-up")), interval=0.01)
    assert router.recv(timeout_ms=2000) is not None
    message = crop("held")
    detect_end = int(time.time() * 1000) - 1500  # its frame was detected 1.5 s ago (held since)
    message.header.stamp("detect_end", detect_end)
    track = Track(track_id=7, box=(0, 0, 10, 10), first_seen_ms=0, last_seen_ms=0)
    uplink.queue_crop(Outgoing(message=message, camera_id="cam-1", track=track, candidate=Candidate(1.0, message),
                               camera_time_ms=0))
    uplink.send_due()
    got = router.recv(timeout_ms=2000)
    assert got is not None and got.header.msg_id == "held"
    ts = got.header.ts
    assert ts["detect_end"] + 1500 <= ts["edge_queued"] <= ts["edge_sent"]
    queued = [r for r in caplog.records if getattr(r, "event", None) == "crop_queued"]
    assert len(queued) == 1 and queued[0].held_ms >= 1500
    assert queued[0].ts["edge_queued"] == ts["edge_queued"]
