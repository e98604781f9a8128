import cv2
import numpy as np
import pytest

from common.clock import FakeClock
from common.protocol import MessageType, decode, encode
from iot.camera import Outcome
from iot.stoppable_clock import StoppableClock
from tests.conftest import require_asset
from tests.iot.helpers import SHORT_GIF, VIDEO, ListSender, make_pipeline


def test_counters_add_up_and_frames_are_well_formed():
    path = require_asset(VIDEO)
    sender = ListSender()
    pipeline = make_pipeline(
        sender, source=str(path), fps=2, realtime=False, max_width=400, jpeg_quality=70, max_frames=20
    )
    assert pipeline.run() is Outcome.ENDED
    c = pipeline.counters()
    frames = [m for m in sender.messages if m.header.type is MessageType.FRAME]
    assert c["sent"] == len(frames) == 20 and c["dropped"] == 0
    assert c["captured"] == c["skipped_rate"] + c["skipped_motion"] + c["sent"] + c["dropped"] + c["read_errors"]
    assert c["captured"] == 96  # 20 frames at 2 fps of a 10 fps video: frames 0, 5, ..., 95
    assert [m.header.seq for m in frames] == list(range(20))
    assert len({m.header.trace_id for m in frames}) == 20
    eos = sender.messages[-1]
    assert eos.header.type is MessageType.END_OF_STREAM and eos.header.seq == 20
    assert eos.header.meta == {"reason": "max_frames", "frames": 20}
    for message in frames:
        decode(encode(message))  # passes the receiver's validation
        image = cv2.imdecode(np.frombuffer(message.image, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (225, 400, 3) == (message.header.image.height, message.header.image.width, 3)
        assert message.header.ts["captured"] <= message.header.ts["sent"]


def test_full_queue_counts_drops_and_keeps_going():
    path = require_asset(SHORT_GIF)
    sender = ListSender(accept=False)
    fake = FakeClock()
    pipeline = make_pipeline(
        sender, clock=StoppableClock(fake), eos_timeout_s=2.0, source=str(path), fps=0, realtime=False
    )
    assert pipeline.run() is Outcome.ENDED
    c = pipeline.counters()
    assert (c["captured"], c["sent"], c["dropped"]) == (23, 0, 23)
    # END_OF_STREAM was retried every 50 ms for 2 s, then reported as undelivered
    assert c["eos_undelivered"] == 1 and "eos_sent" not in c
    assert 23 + 41 <= sender.attempts <= 23 + 42  # 1 + 2 s / 50 ms (+1 for float rounding)
    assert fake.now == pytest.approx(1002.0, abs=0.06)


def test_eos_retry_succeeds_when_the_edge_comes_back():
    path = require_asset(SHORT_GIF)

    class SlowEdge(ListSender):
        def send(self, message):
            self.accept = message.header.type is MessageType.END_OF_STREAM and self.attempts >= 30
            return super().send(message)

    sender = SlowEdge()
    pipeline = make_pipeline(sender, clock=StoppableClock(FakeClock()), source=str(path), fps=0, realtime=False)
    pipeline.run()
    assert pipeline.counters()["eos_sent"] == 1
    assert [m.header.type for m in sender.messages] == [MessageType.END_OF_STREAM]


def test_corrupt_folder_images_count_as_read_errors(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((30, 40, 3), 50, np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff broken")
    cv2.imwrite(str(tmp_path / "c.png"), np.full((30, 40, 3), 90, np.uint8))
    sender = ListSender()
    pipeline = make_pipeline(sender, source=str(tmp_path), fps=10, loop=True, realtime=False, max_frames=6)
    pipeline.run()
    c = pipeline.counters()
    assert c["sent"] == 6 and c["read_errors"] == 3 and c["captured"] == 9  # three cycles of a, b, c
    levels = [
        int(cv2.imdecode(np.frombuffer(m.image, np.uint8), cv2.IMREAD_GRAYSCALE)[0, 0]) for m in sender.messages[:-1]
    ]
    assert [round(v, -1) for v in levels] == [50, 90] * 3


def test_source_that_cannot_open_fails_the_camera(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"nope")
    pipeline = make_pipeline(ListSender(), source=str(tmp_path / "x.mp4"))
    assert pipeline.run() is Outcome.FAILED


def test_a_frame_the_protocol_refuses_is_dropped_not_fatal():
    from common.protocol import Limits
    from common.transport import Sender

    path = require_asset(SHORT_GIF)
    sender = Sender("tcp://127.0.0.1:1", limits=Limits(max_payload_bytes=100))  # every JPEG is "oversize"
    try:
        pipeline = make_pipeline(sender, eos_timeout_s=0, source=str(path), fps=0, realtime=False, max_frames=3)
        assert pipeline.run() is Outcome.ENDED
    finally:
        sender.close()
    c = pipeline.counters()
    assert (c["sent"], c["dropped"]) == (0, 3)
