"""The running edge over real ZeroMQ sockets on 127.0.0.1."""

import time

import pytest
import zmq

from common.images import decode_image, encode_jpeg
from common.protocol import HOPS, Header, Message, MessageType, encode, make_image_message
from common.transport import Receiver, Sender

from edge.faces import FaceFinder
from edge.service import EdgeService
from edge.settings import EdgeSettings
from tests.conftest import assert_nothing_within, wait_until
from tests.edge.conftest import PEOPLE_MODEL, models_dir


class SlowDetector:
    """Stands in for YOLO taking 0.5 s per frame."""

    person_classes = {0: "person"}
    model_name = "slow"

    def __init__(self, seconds=0.5):
        self.seconds = seconds
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        time.sleep(self.seconds)  # simulated inference time: a fixed delay is the point
        return []


def settings(**overrides):
    base = dict(
        bind="tcp://127.0.0.1:*",
        cloud_address="tcp://127.0.0.1:1",  # nobody there unless a test overrides it
        models_dir=models_dir(),
        person_model=PEOPLE_MODEL,
        person_classes="Normal,Fall",
        onnx_threads=2,
        workers=1,  # one processor: the tests below look at it
        outbox_path=":memory:",  # a test's crops never outlive it
        transport="plaintext",  # CurveZMQ and key bindings: tests/edge/test_bindings.py
    )
    base.update(overrides)
    return EdgeSettings(**base)


def tiny_frame(camera="cam-1", seq=0):
    import numpy as np

    jpeg = encode_jpeg(np.full((48, 64, 3), 90, np.uint8))
    msg = make_image_message(MessageType.FRAME, jpeg, 64, 48, camera, "room-1", seq=seq)
    msg.header.stamp("captured", int(time.time() * 1000))
    msg.header.stamp("sent", int(time.time() * 1000))
    return msg


@pytest.fixture()
def slow_edge(yunet_model):
    service = EdgeService(
        settings(buffer_capacity=4, person_detection="inline"),  # the worker itself waits for the detector
        detector=SlowDetector(0.5),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    ).start()
    yield service
    service.stop()


def test_receiver_keeps_draining_while_the_detector_is_slow(slow_edge):
    push = Sender(slow_edge.bound_address, kind="push", hwm=1000)
    try:
        wait_until(lambda: push.send(tiny_frame(seq=0)), timeout=10, message="camera not connected")
        started = time.monotonic()
        sent = 1
        for seq in range(1, 60):
            wait_until(lambda: push.send(tiny_frame(seq=seq)), timeout=5, interval=0.001,
                       message=f"frame {seq} not accepted by the socket")
            sent += 1
        # All 60 frames are pulled off the socket long before 60 x 0.5 s of inference.
        wait_until(lambda: slow_edge.metrics.count("frames_received") == sent, timeout=5,
                   message=f"the receiver did not drain all {sent} frames")
        elapsed = time.monotonic() - started
        assert elapsed < 5
        processed = slow_edge.detector.calls
        assert processed <= elapsed / 0.5 + 2
        dropped = slow_edge.metrics.count("frames_dropped_buffer")
        assert dropped >= sent - processed - 4 - 1  # capacity 4, one in the worker's hands
        assert len(slow_edge.buffer) <= 4
    finally:
        push.close()


def test_beside_a_slow_detector_every_frame_reaches_the_face_path(yunet_model):
    """person_detection=beside: the worker does not wait for the detector, so a detector 50x too
    slow for the camera drops no frame; it works on each camera's newest frame instead, and the
    frames it had no time for are counted as superseded."""
    service = EdgeService(
        settings(buffer_capacity=4),
        detector=SlowDetector(0.5),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    ).start()
    push = Sender(service.bound_address, kind="push", hwm=1000)
    try:
        wait_until(lambda: push.send(tiny_frame(seq=0)), timeout=10, message="camera not connected")
        started = time.monotonic()
        for seq in range(1, 40):
            push.send(tiny_frame(seq=seq))
            time.sleep(0.01)
        wait_until(lambda: service.metrics.count("frames_processed") == 40, timeout=10,
                   message="the face path did not keep up with 40 frames")
        elapsed = time.monotonic() - started
        assert service.metrics.count("frames_dropped_buffer") == 0
        detected = service.detector.calls
        assert 1 <= detected <= elapsed / 0.5 + 2
        wait_until(lambda: service.metrics.count("people_frames_detected")
                   + service.metrics.count("people_frames_superseded") >= 39, timeout=5,
                   message="frames neither detected nor counted as superseded")
        assert service.metrics.count("people_frames_superseded") >= 40 - detected - 1
    finally:
        push.close()
        service.stop()


def test_malformed_unknown_and_unexpected_messages_are_counted_not_fatal(yunet_model):
    service = EdgeService(
        settings(allowed_cameras="cam-1,cam-2"),
        detector=SlowDetector(0.0),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    ).start()
    accept = service.accept

    def accept_with_a_bug(message, user_id=None):  # an unexpected exception in the receiver thread
        if message.header.camera_id == "cam-2" and message.header.seq == 7:
            raise RuntimeError("bug")
        accept(message, user_id)

    service.accept = accept_with_a_bug
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.PUSH)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(service.bound_address)
    try:
        raw.send_multipart([b"not json"])
        raw.send_multipart([b'{"v": 1, "meta": ' + b"[" * 5000 + b"]" * 5000 + b"}"])  # RecursionError in json
        raw.send_multipart([b'{"v": 99, "type": "frame"}', b"x"])
        raw.send_multipart([b'{"v": 1, "type": "teleport"}'])
        raw.send_multipart(encode(tiny_frame())[:1])  # FRAME without its JPEG
        push = Sender(service.bound_address, kind="push", hwm=100)
        wait_until(lambda: push.send(tiny_frame(camera="intruder")), timeout=10, message="camera not connected")
        crop = make_image_message(MessageType.FACE_CROP, b"\xff\xd8x", 4, 4, "cam-1", "room-1")
        push.send(crop)  # a valid message type the edge does not expect
        corrupt = make_image_message(MessageType.FRAME, b"\xff\xd8 garbage", 64, 48, "cam-2", "room-1")
        push.send(corrupt)
        push.send(tiny_frame(camera="cam-2", seq=7))  # hits the bug
        push.send(tiny_frame(camera="cam-1"))  # still alive afterwards
        wait_until(
            lambda: service.metrics.count("frames_processed") == 1 and service.metrics.count("frames_refused") == 1,
            timeout=10, message="the good and the corrupt frame were not both handled")
        rejected = service.receiver.rejected
        assert rejected["bad_json"] == 2 and rejected["version"] == 1 and rejected["bad_field"] == 1 and rejected["frame_count"] == 1
        assert service.metrics.count("unknown_cameras") == 1
        assert service.metrics.count("unexpected_type_face_crop") == 1
        assert service.metrics.count("frames_received") == 2
        assert service.metrics.count("receiver_errors") == 1
        push.close()
    finally:
        raw.close()
        service.stop()


def test_end_to_end_frames_in_face_crops_out(yunet_model, classroom_frames, people_model):
    cloud = Receiver("tcp://127.0.0.1:*", kind="router")
    # classroom.gif's faces are 11-20 px: below the default 40 px gate, so it is lowered here.
    service = EdgeService(settings(cloud_address=cloud.bound_address, workers=1, min_face_px=10), metrics_interval_s=60).start()
    push = Sender(service.bound_address, kind="push", hwm=100)
    try:
        frames = classroom_frames[:3]
        sent_frames = []
        for i, frame in enumerate(frames):
            msg = make_image_message(MessageType.FRAME, encode_jpeg(frame), 480, 270, "cam-1", "room-1", seq=i)
            msg.header.stamp("captured", int(time.time() * 1000))
            msg.header.stamp("sent", int(time.time() * 1000))
            wait_until(lambda: push.send(msg), timeout=10, message=f"frame {i} not accepted")
            sent_frames.append(msg)
        eos = Message(header=Header(type=MessageType.END_OF_STREAM, camera_id="cam-1", classroom_id="room-1", trace_id="eos-trace"))
        push.send(eos)

        received, peer = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = cloud.recv(timeout_ms=200)
            if msg is None:
                continue
            received.append(msg)
            peer = cloud.last_peer
            if msg.header.type is MessageType.END_OF_STREAM:
                break
        types = [m.header.type for m in received]
        assert types[-1] is MessageType.END_OF_STREAM and received[-1].header.trace_id == "eos-trace"
        crops = [m for m in received if m.header.type is MessageType.FACE_CROP]
        assert set(types) == {MessageType.FACE_CROP, MessageType.END_OF_STREAM}  # never a full frame
        assert len(crops) == 4  # four people, one crop each: later frames wait for the pending crops' RESULTs
        assert len({tuple(c.header.meta["face_box"]) for c in crops}) == 4
        trace_ids = {m.header.trace_id for m in sent_frames}
        for crop in crops:
            h = crop.header
            assert h.trace_id in trace_ids
            hops = [h.ts[name] for name in HOPS if name in h.ts]
            assert list(h.ts) and [n for n in HOPS if n in h.ts] == ["captured", "sent", "edge_received", "detect_start", "detect_end", "edge_queued", "edge_sent"]
            assert hops == sorted(hops)
            image = decode_image(crop.image)
            assert image.shape[0] < 270 / 2 and image.shape[1] < 480 / 2
            assert h.meta["frame_size"] == [480, 270]
        wait_until(lambda: service.metrics.count("crops_sent") == 4 and service.metrics.count("eos_forwarded") == 1,
                   timeout=5, message="crops_sent/eos_forwarded not counted")

        # The cloud answers; RESULTs are read and applied.
        track_id = crops[0].header.meta["track_id"]
        result = crops[0].header.derive(MessageType.RESULT, meta={"ack_of": crops[0].header.msg_id, "track_id": track_id, "status": "recognised", "student_id": "s1", "similarity": 99.0, "session_id": None})
        assert cloud.reply(peer, Message(header=result))
        wait_until(lambda: service.metrics.count("results_recognised") == 1, timeout=10, message="RESULT not applied")
    finally:
        push.close()
        service.stop()
        cloud.close()


def test_settings_reach_the_policy_the_gate_the_face_finder_and_the_trackers(yunet_model):
    service = EdgeService(
        settings(retry_interval_s=2.5, max_attempts=3, max_crops_per_track=6, result_timeout_s=7.0,
                 min_face_px=24, scene_cut_diff=20.0, appearance_split_distance=0.45, face_max_side=1280),
        detector=SlowDetector(0.0),
        metrics_interval_s=60,
    )
    try:
        (processor,) = service.processors
        policy = processor.policy
        assert (policy.retry_interval_ms, policy.max_attempts, policy.max_crops, policy.result_timeout_ms) == (2500, 3, 6, 7000)
        assert processor.gate.min_face_px == 24
        assert processor.send_evidence is True
        assert processor.faces.max_side == 1280
        tracker = service.tracks.tracker("cam-1")
        assert tracker.split_distance == 0.45 and tracker.scene.threshold == 20.0
    finally:
        service.receiver.close()
        service.uplink.close()


def test_small_faces_go_out_once_per_track_as_evidence_outside_the_crop_policy(yunet_model, classroom_frames):
    # No person boxes (the detector finds nobody): every face is a subject of its own. Default gate
    # (40 px): classroom.gif's 11-20 px faces are evidence only.
    cloud = Receiver("tcp://127.0.0.1:*", kind="router")
    service = EdgeService(settings(cloud_address=cloud.bound_address), detector=SlowDetector(0.0),
                          face_finder_factory=lambda: FaceFinder(yunet_model), metrics_interval_s=60)
    try:
        (processor,) = service.processors
        for i, frame in enumerate(classroom_frames[:2]):
            msg = make_image_message(MessageType.FRAME, encode_jpeg(frame), 480, 270, "cam-1", "room-1", seq=i)
            msg.header.stamp("captured", 1_000_000 + 70 * i)
            service.handle(processor, msg)
        assert len(service.outbox) == 4  # written to the outbox first
        service.send_due()  # what the uplink thread does
        received = []
        while (msg := cloud.recv(timeout_ms=2000)) is not None:
            received.append(msg)
            if len(received) == 4:
                break
        assert len(received) == 4 and cloud.recv(timeout_ms=200) is None
        assert {m.header.meta["purpose"] for m in received} == {"evidence"}
        assert {m.header.meta["person_score"] for m in received} == {None}  # face-only subjects
        assert service.metrics.count("evidence_crops_sent") == 4 and service.metrics.count("crops_sent") == 0
        with service.tracks.lock:
            tracks = list(service.tracks.tracker("cam-1").tracks.values())
        assert len(tracks) == 4
        assert all(t.evidence_sent and t.crops_sent == 0 and not t.pending for t in tracks)
    finally:
        service.receiver.close()
        service.uplink.close()
        cloud.close()


def test_results_carry_their_reason_to_the_track(yunet_model):
    service = EdgeService(settings(), detector=SlowDetector(0.0), face_finder_factory=lambda: FaceFinder(yunet_model),
                          metrics_interval_s=60)
    try:
        with service.tracks.lock:
            (track,), _ = service.tracks.tracker("cam-1").update([(0, 0, 50, 100)], 0)
        track.pending = True
        header = Header(type=MessageType.RESULT, camera_id="cam-1", classroom_id="room-1",
                        meta={"track_id": track.track_id, "status": "unknown", "reason": "unconfirmed"})
        service.apply_result(Message(header=header))
        assert (track.last_status, track.last_reason, track.pending, track.unknowns) == ("unknown", "unconfirmed", False, 0)
        assert service.metrics.count("results_unknown") == 1
        header = Header(type=MessageType.RESULT, camera_id="cam-1", classroom_id="room-1",
                        meta={"track_id": track.track_id, "status": "error", "reason": 42})  # a reason that is no text
        service.apply_result(Message(header=header))
        assert (track.last_status, track.last_reason) == ("error", None)
        service.apply_result(Message(header=Header(type=MessageType.RESULT, camera_id="cam-1", classroom_id="room-1",
                                                   meta={"track_id": track.track_id, "status": "maybe"})))
        assert service.metrics.count("results_malformed") == 1 and track.last_status == "error"
    finally:
        service.receiver.close()
        service.uplink.close()


def test_missing_model_fails_before_binding(tmp_path):
    from edge.models import MissingModelError

    with pytest.raises(MissingModelError, match=PEOPLE_MODEL):
        EdgeService(settings(models_dir=tmp_path))


def test_100k_camera_ids_keep_the_metrics_line_small(yunet_model):
    """Frames and END_OF_STREAMs from 100k new camera ids (the workers not started): the buffer,
    the trackers and the metrics line stay bounded (counts and the top 20, never whole maps)."""
    import json

    service = EdgeService(
        settings(buffer_capacity=16, max_cameras=100),
        detector=SlowDetector(0),
        face_finder_factory=lambda: FaceFinder(yunet_model),
        metrics_interval_s=60,
    )
    try:
        frame = tiny_frame()
        for i in range(100_000):
            header = frame.header
            message = Message(header=Header(type=MessageType.FRAME, camera_id=f"cam-{i}", classroom_id="room-1",
                                            image=header.image, ts=dict(header.ts)), payloads=frame.payloads)
            service.accept(message)
            if i % 10 == 0:
                service.accept(Message(header=Header(type=MessageType.END_OF_STREAM, camera_id=f"eos-{i}",
                                                     classroom_id="room-1")))
            with service.tracks.lock:
                service.tracks.tracker(f"cam-{i}")
        line = service._extra_metrics()
        assert line["buffer_depth"] == 16 and line["buffer_cameras"] <= 16 + service.buffer.max_pending_eos
        assert len(line["buffer_by_camera"]) <= 20 and len(line["buffer_dropped_by_camera"]) <= 20
        assert line["cameras_tracked"] == 100 and line["cameras_forgotten"] == 100_000 - 100
        assert len(service.buffer.stats.dropped_by_camera) <= 1024
        assert len(json.dumps({**service.metrics.snapshot(), **line})) < 8192
    finally:
        service.receiver.close()
        service.uplink.close()
        service.outbox.close()
