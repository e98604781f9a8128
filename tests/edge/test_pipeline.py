"""The whole per-frame path on classroom.gif: detection, faces, tracking, crop policy."""

import logging
from collections import Counter

import pytest

from common.images import decode_image, encode_jpeg
from common.metrics import Metrics
from common.protocol import MessageType, decode, encode, make_image_message

from edge.faces import FaceFinder, QualityGate
from edge.pipeline import FrameProcessor
from edge.tracker import CropPolicy, TrackRegistry

log = logging.getLogger("rollcall.edge.test")
FRAME_MS = 70  # classroom.gif: 70 ms per frame


def frame_messages(frames, camera="cam-1"):
    out = []
    for i, frame in enumerate(frames):
        jpeg = encode_jpeg(frame, 90)
        msg = make_image_message(MessageType.FRAME, jpeg, frame.shape[1], frame.shape[0], camera, "room-1", seq=i)
        msg.header.stamp("captured", 1_000_000 + i * FRAME_MS)
        out.append(msg)
    return out


def make_processor(detector, yunet_model, resend_interval_ms=10_000, max_crops=5):
    metrics = Metrics()
    processor = FrameProcessor(
        detector=detector,
        faces=FaceFinder(yunet_model),
        tracks=TrackRegistry(0.3, 5000),
        policy=CropPolicy(resend_interval_ms, max_crops),
        gate=QualityGate(min_face_px=12, min_blur=20, min_score=0.6),
        metrics=metrics,
        logger=log,
    )
    return processor, metrics


@pytest.fixture(scope="module")
def classroom_messages(classroom_frames):
    return frame_messages(classroom_frames)


def run(processor, messages, on_crop=None):
    """Process messages like the service does, every send succeeding."""
    sent = []
    for msg in messages:
        for out in processor.process(msg).outgoing:
            with processor.tracks.lock:
                CropPolicy.sent(out.track, out.candidate, out.camera_time_ms)
            sent.append(out)
            if on_crop:
                on_crop(out)
    return sent


def nearest_person(box, people):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return min(range(len(people)), key=lambda i: ((people[i][0] + people[i][2]) / 2 - cx) ** 2 + ((people[i][1] + people[i][3]) / 2 - cy) ** 2)


def test_tracking_sends_one_or_two_crops_per_person_not_one_per_frame(cached_detector, yunet_model, classroom_frames, classroom_messages):
    detector = cached_detector
    processor, metrics = make_processor(detector, yunet_model)
    crops = run(processor, classroom_messages)
    people = [p.box for p in detector.detect(classroom_frames[0])]
    per_person = Counter(nearest_person(o.message.header.meta["person_box"], people) for o in crops)
    counters = metrics.snapshot()["counters"]
    log.info("classroom.gif: %d frames, %d crops sent, %d suppressed, per person %s", len(classroom_messages), len(crops), counters.get("crops_suppressed", 0), dict(per_person))
    assert counters["frames_processed"] == 45
    assert counters["faces"] >= 45 * 4 - 5  # without tracking: ~180 crops
    assert sorted(per_person) == [0, 1, 2, 3]  # everyone got a crop
    assert all(1 <= n <= 2 for n in per_person.values()), per_person
    assert counters["crops_suppressed"] >= 45 * 4 - 5 - len(crops)


def test_tracks_are_timed_in_source_time_when_the_camera_sends_it(cached_detector, yunet_model, classroom_frames):
    # A file replayed faster than real time: capture times 10 ms apart, but 10 s of video between
    # the two frames. The tracks of the first frame have expired by the second (ttl 5 s), so the
    # same seats get new tracks and new crops; timed by capture they would be suppressed.
    def replayed(source_ms_step):
        messages = frame_messages([classroom_frames[0], classroom_frames[1]])
        for i, msg in enumerate(messages):
            msg.header.stamp("captured", 1_000_000 + i * 10)
            msg.header.meta["source_ms"] = i * source_ms_step
        return messages

    processor, _ = make_processor(cached_detector, yunet_model)
    assert len(run(processor, replayed(source_ms_step=10_000))) == 8
    processor, _ = make_processor(cached_detector, yunet_model)
    assert len(run(processor, replayed(source_ms_step=100))) == 4


def test_face_crop_message_follows_the_contract(cached_detector, yunet_model, classroom_messages):
    processor, _ = make_processor(cached_detector, yunet_model)
    frame_msg = classroom_messages[0]
    crops = run(processor, [frame_msg])
    assert len(crops) == 4
    for out in crops:
        msg = decode(encode(out.message))  # valid on the wire
        h = msg.header
        assert h.type is MessageType.FACE_CROP
        assert h.trace_id == frame_msg.header.trace_id and h.seq == 0 and h.msg_id != frame_msg.header.msg_id
        assert (h.camera_id, h.classroom_id) == ("cam-1", "room-1")
        assert h.ts["detect_start"] <= h.ts["detect_end"]
        meta = h.meta
        assert set(meta) == {"track_id", "person_box", "person_score", "face_box", "face_score", "quality", "frame_size", "frame_msg_id"}
        assert meta["frame_size"] == [480, 270] and meta["frame_msg_id"] == frame_msg.header.msg_id
        assert set(meta["quality"]) == {"blur", "face_px"}
        crop = decode_image(msg.image)
        assert crop.shape[1] == h.image.width and crop.shape[0] == h.image.height
        assert crop.shape[0] < 60 and crop.shape[1] < 60  # a face crop, never the frame
        fx1, fy1, fx2, fy2 = meta["face_box"]
        px1, py1, px2, py2 = meta["person_box"]
        assert px1 - 15 <= fx1 and fx2 <= px2 + 15


def test_recognised_track_gets_no_more_crops(cached_detector, yunet_model, classroom_messages):
    # Short resend interval; the cloud answers "error" for everyone except one recognised track.
    processor, _ = make_processor(cached_detector, yunet_model, resend_interval_ms=300, max_crops=10)
    first = run(processor, classroom_messages[:1])
    recognised = first[0].track.track_id
    for out in first:
        status = "recognised" if out.track.track_id == recognised else "error"
        assert processor.tracks.apply_result("cam-1", out.track.track_id, status)
    later = Counter(o.track.track_id for o in run(processor, classroom_messages[1:15]))  # ~1 s of video
    assert later[recognised] == 0
    others = [out.track.track_id for out in first[1:]]
    assert all(later[t] >= 2 for t in others), later  # "error" tracks keep getting crops


def test_corrupt_jpeg_is_counted_not_raised(detector, yunet_model):
    processor, metrics = make_processor(detector, yunet_model)
    bad = make_image_message(MessageType.FRAME, b"\xff\xd8 definitely not a jpeg", 480, 270, "cam-1", "room-1")
    result = processor.process(bad)
    assert result.corrupt and result.outgoing == []
    assert metrics.count("frames_corrupt") == 1
