import threading

from common.protocol import Header, Message, MessageType, make_image_message

from edge.buffer import FrameBuffer


def frame(camera: str, seq: int) -> Message:
    return make_image_message(MessageType.FRAME, b"\xff\xd8jpeg", 4, 4, camera, "room", seq=seq)


def eos(camera: str) -> Message:
    return Message(header=Header(type=MessageType.END_OF_STREAM, camera_id=camera, classroom_id="room"))


def drain(buf: FrameBuffer) -> list[tuple[str, int, str]]:
    out = []
    while (m := buf.take(timeout=0)) is not None:
        out.append((m.header.camera_id, m.header.seq, m.header.type.value))
        buf.done(m.header.camera_id)
    return out


def test_capacity_and_drop_oldest():
    buf = FrameBuffer(capacity=3)
    dropped = [buf.put(frame("a", i)) for i in range(5)]
    assert [d.header.seq if d else None for d in dropped] == [None, None, None, 0, 1]
    assert len(buf) == 3 and buf.stats.dropped == 2 and buf.stats.added == 5
    assert [seq for _, seq, _ in drain(buf)] == [2, 3, 4]  # the newest survive, in order


def test_flooding_camera_cannot_starve_a_quiet_one():
    buf = FrameBuffer(capacity=4)
    buf.put(frame("quiet", 0))
    for i in range(100):
        buf.put(frame("busy", i))
    buf.put(frame("quiet", 1))
    # Drops always hit the camera holding most frames.
    assert buf.stats.dropped_by_camera == {"busy": 98}
    taken = drain(buf)
    assert [(c, s) for c, s, _ in taken if c == "quiet"] == [("quiet", 0), ("quiet", 1)]
    assert [s for c, s, _ in taken if c == "busy"] == [98, 99]


def test_round_robin_take_alternates_cameras():
    buf = FrameBuffer(capacity=10)
    for i in range(3):
        buf.put(frame("a", i))
    for i in range(3):
        buf.put(frame("b", i))
    assert [c for c, _, _ in drain(buf)] == ["a", "b", "a", "b", "a", "b"]


def test_end_of_stream_is_never_dropped_and_comes_after_the_cameras_frames():
    buf = FrameBuffer(capacity=2)
    buf.put(frame("a", 0))
    buf.put(frame("a", 1))
    buf.put(eos("a"))
    buf.put(frame("a", 2))  # drops seq 0, not the EOS
    assert [(s, t) for _, s, t in drain(buf)] == [(1, "frame"), (0, "eos"), (2, "frame")]


def test_a_camera_goes_to_one_worker_at_a_time():
    buf = FrameBuffer(capacity=10)
    buf.put(frame("a", 0))
    buf.put(frame("a", 1))
    buf.put(frame("b", 0))
    first = buf.take(timeout=0)
    second = buf.take(timeout=0)
    assert (first.header.camera_id, second.header.camera_id) == ("a", "b")
    assert buf.take(timeout=0) is None  # a's next frame waits until a is done
    buf.done("a")
    assert buf.take(timeout=0).header.seq == 1


def test_take_waits_for_a_frame_and_close_wakes_workers():
    buf = FrameBuffer(capacity=2)
    got = []
    worker = threading.Thread(target=lambda: got.append(buf.take(timeout=5)))
    worker.start()
    buf.put(frame("a", 7))
    worker.join(2)
    assert got and got[0].header.seq == 7
    buf.done("a")
    waiter = threading.Thread(target=lambda: got.append(buf.take(timeout=5)))
    waiter.start()
    buf.close()
    waiter.join(2)
    assert not waiter.is_alive() and got[-1] is None


def test_a_flood_of_end_of_stream_is_coalesced_and_bounded():
    buf = FrameBuffer(capacity=4, max_pending_eos=3)
    buf.put(frame("a", 0))
    kept = buf.put(eos("a"))
    refused = [buf.put(eos("a")) for _ in range(1000)]  # one camera says it again and again
    assert kept is None and all(r is not None and r.header.type is MessageType.END_OF_STREAM for r in refused)
    assert [buf.put(eos(c)) is None for c in ("b", "c", "d")] == [True, True, False]  # 3 may wait in all
    assert [(c, t) for c, _, t in drain(buf)] == [("a", "frame"), ("b", "eos"), ("c", "eos"), ("a", "eos")]
    assert buf.put(eos("a")) is None  # the earlier one went out: a new end may wait again
