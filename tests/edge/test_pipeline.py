"""The whole per-frame path on real frames (classroom.gif, letterboxed probe photos): detection,
faces, their assignment to people, tracking and the crop policy."""

import logging
from collections import Counter

import cv2
import pytest

from common.images import decode_image, encode_jpeg
from common.metrics import Metrics
from common.protocol import MessageType, decode, encode, make_image_message

from demo_seed.frames import letterbox
from edge.association import face_cost
from edge.faces import FaceFinder, QualityGate
from edge.pipeline import FrameProcessor
from edge.tracker import CropPolicy, TrackRegistry
from tests.conftest import require_asset

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


#: classroom.gif's faces are 11-20 px (480x270): below the 40 px recognition minimum of the
#: default gate. Tests of tracking and the crop policy on it lower the gate explicitly.
CLASSROOM_MIN_FACE_PX = 10


def make_processor(detector, yunet_model, retry_interval_ms=1000, max_crops=8, max_attempts=4,
                   result_timeout_ms=5000, gate=None):
    metrics = Metrics()
    processor = FrameProcessor(
        detector=detector,
        faces=FaceFinder(yunet_model),
        tracks=TrackRegistry(0.3, 5000),
        policy=CropPolicy(retry_interval_ms, max_crops, max_attempts, result_timeout_ms),
        gate=gate or QualityGate(min_face_px=CLASSROOM_MIN_FACE_PX, min_blur=20, min_score=0.6),
        metrics=metrics,
        logger=log,
    )
    return processor, metrics


@pytest.fixture(scope="module")
def classroom_messages(classroom_frames):
    return frame_messages(classroom_frames)


def run(processor, messages, on_crop=None):
    """Process messages like the service does, every send succeeding (evidence crops are outside
    the crop policy); ``on_crop(out)`` plays the cloud (e.g. answers a RESULT at once)."""
    sent = []
    for msg in messages:
        for out in processor.process(msg).outgoing:
            if not out.evidence:
                with processor.tracks.lock:
                    CropPolicy.sent(out.track, out.candidate, out.camera_time_ms)
            sent.append(out)
            if on_crop:
                on_crop(out)
    return sent


def answer(processor, status, reason=None):
    """A cloud that answers every crop at once with ``status``."""
    def on_crop(out):
        assert processor.tracks.apply_result(out.camera_id, out.track.track_id, status, reason)
    return on_crop


def nearest_person(box, people):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return min(range(len(people)), key=lambda i: ((people[i][0] + people[i][2]) / 2 - cx) ** 2 + ((people[i][1] + people[i][3]) / 2 - cy) ** 2)


def test_classroom_faces_are_too_small_to_search_one_evidence_crop_per_track(cached_detector, yunet_model, classroom_messages):
    processor, metrics = make_processor(cached_detector, yunet_model, gate=QualityGate())
    assert processor.send_evidence  # the default
    crops = run(processor, classroom_messages[:5])
    counters = metrics.snapshot()["counters"]
    assert counters["faces"] == 5 * 4 and counters["faces_rejected_too_small"] == 5 * 4
    assert "crops_held" not in counters and "crops_suppressed" not in counters  # never offered to the policy
    assert len(crops) == 4 and all(o.evidence for o in crops)  # frame 0 only: one per track
    assert {o.message.header.seq for o in crops} == {0} and len({o.track.track_id for o in crops}) == 4
    for out in crops:
        meta = out.message.header.meta
        assert meta["purpose"] == "evidence" and meta["quality"]["face_px"] < 40
        assert out.track.evidence_sent and out.track.crops_sent == 0 and not out.track.pending
    assert not any(o.evidence for o in run(processor, classroom_messages[5:8]))


def test_without_evidence_small_faces_send_nothing(cached_detector, yunet_model, classroom_messages):
    processor, metrics = make_processor(cached_detector, yunet_model, gate=QualityGate())
    processor.send_evidence = False
    assert run(processor, classroom_messages[:3]) == []
    assert metrics.count("faces_rejected_too_small") == 3 * 4


def test_an_evidence_crop_does_not_hold_the_tracks_recognition_crop(cached_detector, yunet_model, classroom_messages):
    # Small faces first (evidence), then the same people clear the gate (as if they came closer):
    # the first recognition crop goes at once, and no second evidence crop follows.
    processor, _ = make_processor(cached_detector, yunet_model, gate=QualityGate())
    evidence = run(processor, classroom_messages[:1])
    assert len(evidence) == 4 and all(o.evidence for o in evidence)
    for out in evidence:  # the cloud's answer to evidence: stored, nothing searched or decided
        assert processor.tracks.apply_result("cam-1", out.track.track_id, "unknown", "too_small")
        assert out.track.unknowns == 0 and out.track.last_status is None
    processor.gate = QualityGate(min_face_px=CLASSROOM_MIN_FACE_PX)
    crops = run(processor, classroom_messages[1:2])
    assert len(crops) == 4 and not any(o.evidence for o in crops)
    assert {o.track.track_id for o in crops} == {o.track.track_id for o in evidence}
    assert all(o.message.header.meta["purpose"] == "recognition" for o in crops)
    processor.gate = QualityGate()
    assert run(processor, classroom_messages[2:3]) == []  # too small again: no evidence after a real crop


def test_a_pending_crop_holds_its_track_one_crop_per_track_without_results(cached_detector, yunet_model, classroom_frames, classroom_messages):
    detector = cached_detector
    processor, metrics = make_processor(detector, yunet_model)
    crops = run(processor, classroom_messages)  # 3.1 s of video, no RESULT ever comes (timeout 5 s)
    people = [p.box for p in detector.detect(classroom_frames[0])]
    per_person = Counter(nearest_person(o.message.header.meta["person_box"], people) for o in crops)
    per_track = Counter(o.track.track_id for o in crops)
    counters = metrics.snapshot()["counters"]
    log.info("classroom.gif: %d frames, %d crops sent, %d held, per person %s", len(classroom_messages), len(crops), counters.get("crops_held", 0), dict(per_person))
    assert counters["frames_processed"] == 45
    assert counters["faces"] == 45 * 4  # without tracking: 180 crops
    first = [o for o in crops if o.message.header.seq == 0]
    assert sorted(nearest_person(o.message.header.meta["person_box"], people) for o in first) == [0, 1, 2, 3]
    assert set(per_track.values()) == {1}  # a track with a crop out sends nothing more
    assert counters["crops_held"] == 45 * 4 - len(crops) - counters.get("faces_rejected_too_small", 0)
    # Later crops only come from tracks that start later (see the xfail in test_association.py:
    # at frame 42 a widened person box takes a neighbour's face and one face gets a box of its own).
    assert len(crops) - 4 <= counters.get("faces_without_person_box", 0)
    # Seated people on a steady camera: no scene cut, no appearance split, no expiry.
    for name in ("scene_cuts", "tracks_split_appearance", "tracks_expired"):
        assert name not in counters, name


def test_unknown_answers_bring_retries_with_a_doubling_wait(cached_detector, yunet_model, classroom_messages):
    processor, _ = make_processor(cached_detector, yunet_model, retry_interval_ms=500)
    crops = run(processor, classroom_messages, on_crop=answer(processor, "unknown"))
    times: dict[int, list[int]] = {}
    for out in crops:
        times.setdefault(out.track.track_id, []).append(out.camera_time_ms - 1_000_000)
    from_start = [t for t, sent_at in times.items() if sent_at[0] == 0]
    assert len(from_start) == 4
    for track_id in from_start:
        # Frames every 70 ms: the first frame at or after 0 + 500, then at or after that + 1000;
        # the next would be due 2 s later, after the end of the video.
        assert times[track_id] == [0, 560, 1610], (track_id, times[track_id])
    for track_id in from_start:  # a retry carries a face of a frame after the previous send
        shot = [o.message.header.meta["camera_ms"] - 1_000_000 for o in crops if o.track.track_id == track_id]
        sent_at = times[track_id]
        assert shot[0] == 0 and all(sent_at[i - 1] < shot[i] <= sent_at[i] for i in range(1, len(shot))), (shot, sent_at)
    for track_id in set(times) - set(from_start):  # tracks that started later: their own first crop
        assert len(times[track_id]) == 1
    assert all(processor.tracks.tracker("cam-1").tracks[t].unknowns == 3 for t in from_start)


def test_tracks_are_timed_in_source_time_when_the_camera_sends_it(cached_detector, yunet_model, classroom_frames):
    # A file replayed faster than real time: capture times 10 ms apart, but 10 s of video between
    # the two frames. The tracks of the first frame have expired by the second (ttl 5 s), so the
    # same seats get new tracks and new crops; timed by capture they would still be held.
    def replayed(source_ms_step):
        messages = frame_messages([classroom_frames[0], classroom_frames[1]])
        for i, msg in enumerate(messages):
            msg.header.stamp("captured", 1_000_000 + i * 10)
            msg.header.meta["source_ms"] = i * source_ms_step
        return messages

    processor, metrics = make_processor(cached_detector, yunet_model)
    crops = run(processor, replayed(source_ms_step=10_000))
    assert len(crops) == 8 and len({o.track.track_id for o in crops}) == 8
    assert sorted(o.message.header.meta["camera_ms"] for o in crops) == [0] * 4 + [10_000] * 4
    assert metrics.count("tracks_expired") == 4
    processor, _ = make_processor(cached_detector, yunet_model)
    assert len(run(processor, replayed(source_ms_step=100))) == 4


def test_face_crop_message_follows_the_contract(cached_detector, yunet_model, classroom_messages):
    processor, _ = make_processor(cached_detector, yunet_model)
    frame_msg = classroom_messages[0]
    crops = run(processor, [frame_msg])
    assert len(crops) == 4
    assert len({tuple(o.message.header.meta["face_box"]) for o in crops}) == 4
    for out in crops:
        msg = decode(encode(out.message))  # valid on the wire
        h = msg.header
        assert h.type is MessageType.FACE_CROP
        assert h.trace_id == frame_msg.header.trace_id and h.seq == 0 and h.msg_id != frame_msg.header.msg_id
        assert (h.camera_id, h.classroom_id) == ("cam-1", "room-1")
        assert h.ts["detect_start"] <= h.ts["detect_end"]
        meta = h.meta
        assert set(meta) == {"track_id", "person_box", "person_score", "face_box", "face_score", "quality", "frame_size", "frame_msg_id", "camera_ms", "purpose"}
        assert meta["purpose"] == "recognition" and not out.evidence
        assert meta["frame_size"] == [480, 270] and meta["frame_msg_id"] == frame_msg.header.msg_id
        assert meta["camera_ms"] == 1_000_000 and meta["track_id"] == out.track.track_id
        assert set(meta["quality"]) == {"blur", "face_px", "frontal", "rank"}
        assert CLASSROOM_MIN_FACE_PX <= meta["quality"]["face_px"] < 40
        assert 0 <= meta["quality"]["frontal"] <= 1 and 0 < meta["quality"]["rank"] <= 1
        assert meta["person_score"] is not None  # every classroom face has its person box
        crop = decode_image(msg.image)
        assert crop.shape[1] == h.image.width and crop.shape[0] == h.image.height
        assert crop.shape[0] < 60 and crop.shape[1] < 60  # a face crop, never the frame
        fx1, fy1, fx2, fy2 = meta["face_box"]
        px1, py1, px2, py2 = meta["person_box"]
        assert px1 - 15 <= fx1 and fx2 <= px2 + 15


def test_recognised_track_gets_no_more_crops(cached_detector, yunet_model, classroom_messages):
    # The cloud answers at once: "recognised" for one track, "error" for everyone else.
    processor, _ = make_processor(cached_detector, yunet_model, retry_interval_ms=300, max_crops=10, max_attempts=10)
    recognised = []

    def cloud(out):
        if not recognised:
            recognised.append(out.track.track_id)
        status = "recognised" if out.track.track_id == recognised[0] else "error"
        assert processor.tracks.apply_result("cam-1", out.track.track_id, status)

    first = run(processor, classroom_messages[:1], on_crop=cloud)
    assert len(first) == 4
    later = Counter(o.track.track_id for o in run(processor, classroom_messages[1:15], on_crop=cloud))  # ~1 s of video
    assert later[recognised[0]] == 0
    others = [out.track.track_id for out in first[1:]]
    assert all(later[t] == 2 for t in others), later  # "error" tracks retry every 300 ms (at 350 and 700 ms)
    assert processor.tracks.recognised_tracks == 1


def test_corrupt_jpeg_is_counted_not_raised(detector, yunet_model):
    processor, metrics = make_processor(detector, yunet_model)
    bad = make_image_message(MessageType.FRAME, b"\xff\xd8 definitely not a jpeg", 480, 270, "cam-1", "room-1")
    result = processor.process(bad)
    assert result.refused == "header_unreadable" and result.outgoing == []
    assert metrics.count("frames_refused") == 1 and metrics.count("frames_refused_header_unreadable") == 1


def photo_message(name, width, height, source_ms, seq, camera="cam-photo"):
    """A FRAME of a shared probe photo, letterboxed like demo_seed's frames, at camera time ``source_ms``."""
    image = cv2.imread(str(require_asset(f"faces/probe/{name}")))
    assert image is not None, name
    frame = letterbox(image, width, height) if width else image
    msg = make_image_message(MessageType.FRAME, encode_jpeg(frame, 90), frame.shape[1], frame.shape[0], camera, "room-1", seq=seq)
    msg.header.stamp("captured", 2_000_000 + seq)  # capture times 1 ms apart: only source_ms tells the time
    msg.header.meta["source_ms"] = source_ms
    return msg


@pytest.fixture(scope="module")
def guido_paul_messages():
    return (photo_message("test_guido_van_rossum.jpg", 480, 270, 0, 0),
            photo_message("test_paul_allen.jpg", 480, 270, 1000, 1),
            photo_message("test_guido_van_rossum.jpg", 480, 270, 1000, 1))


def default_processor(detector, yunet_model):
    """The edge's defaults: 40 px gate, 1 s retry, scene cuts and appearance splits on."""
    metrics = Metrics()
    processor = FrameProcessor(detector=detector, faces=FaceFinder(yunet_model), tracks=TrackRegistry(0.3, 5000),
                               policy=CropPolicy(), gate=QualityGate(), metrics=metrics, logger=log)
    return processor, metrics


def test_another_person_in_the_same_place_gets_a_new_track_after_a_recognised_one(cached_detector, yunet_model, guido_paul_messages):
    guido, paul, _ = guido_paul_messages
    processor, metrics = default_processor(cached_detector, yunet_model)
    (first,) = run(processor, [guido])
    assert first.message.header.meta["camera_ms"] == 0 and first.message.header.meta["quality"]["face_px"] >= 40
    assert processor.tracks.apply_result("cam-photo", first.track.track_id, "recognised")
    result = processor.process(paul)  # 1 s later, a different person where Guido was
    (second,) = result.outgoing
    assert second.track.track_id != first.track.track_id and second.track.crops_sent == 0
    assert second.camera_time_ms == 1000 and second.message.header.trace_id == paul.header.trace_id
    (paul_subject,) = [s for s in result.subjects if s.face is not None]
    assert second.message.header.meta["face_box"] == list(paul_subject.face.box)
    tracker = processor.tracks.tracker("cam-photo")
    assert set(tracker.tracks) == {second.track.track_id}  # Guido's track ended with the scene
    assert metrics.count("scene_cuts") == 1 and metrics.count("tracks_ended_scene_cut") == 1
    assert first.track.recognised and not second.track.recognised


def test_the_same_person_still_there_gets_no_crop_after_being_recognised(cached_detector, yunet_model, guido_paul_messages):
    # The control of the test above: the same photo 1 s later continues the recognised track.
    guido, _, guido_again = guido_paul_messages
    processor, metrics = default_processor(cached_detector, yunet_model)
    (first,) = run(processor, [guido])
    assert processor.tracks.apply_result("cam-photo", first.track.track_id, "recognised")
    assert processor.process(guido_again).outgoing == []
    assert metrics.count("crops_suppressed") == 1 and metrics.count("scene_cuts") == 0
    assert set(processor.tracks.tracker("cam-photo").tracks) == {first.track.track_id}


def test_two_people_in_one_photo_give_two_distinct_crops_never_one_face_twice(cached_detector, yunet_model):
    # Obama and Biden side by side (plus a child at the border): overlapping person boxes.
    msg = photo_message("obama_and_biden.jpg", 0, 0, 0, 0, camera="cam-stage")
    processor, metrics = default_processor(cached_detector, yunet_model)
    result = processor.process(msg)
    outgoing = result.outgoing
    face_boxes = [tuple(o.message.header.meta["face_box"]) for o in outgoing]
    assert len(outgoing) >= 2 and len(set(face_boxes)) == len(face_boxes)  # never the same face twice
    assert len({o.track.track_id for o in outgoing}) == len(outgoing)
    passing = {f.box for f in result.faces if processor.gate.reason_to_reject(f) is None}
    assert set(face_boxes) == passing  # every good face once
    # Biden (left) and Obama (right): the two big faces in the upper half, side by side.
    big = sorted((b for b in face_boxes if b[1] < 1428 / 2), key=lambda b: b[0])
    assert len(big) == 2 and big[0][2] < big[1][0] and min(b[3] - b[1] for b in big) > 150
    # Their person boxes overlap, and Obama's face lies within both: one assignment decided it.
    boxes = {tuple(o.message.header.meta["face_box"]): o.message.header.meta["person_box"] for o in outgoing}
    assert boxes[big[0]] != boxes[big[1]]
    persons = [s.person for s in result.subjects if s.person is not None]
    obama = next(f for f in result.faces if f.box == big[1])
    assert sum(face_cost(obama, p) is not None for p in persons) >= 2
    for o in outgoing:
        x1, y1, x2, y2 = o.message.header.meta["face_box"]
        crop = decode_image(o.message.image)
        assert crop.shape[0] < 2 * (y2 - y1) and crop.shape[1] < 2 * (x2 - x1)  # a face crop, not the frame
    assert metrics.count("faces") == len(result.faces)
    # The next frame of the same scene sends nothing more: every crop is pending.
    again = photo_message("obama_and_biden.jpg", 0, 0, 500, 1, camera="cam-stage")
    for out in outgoing:
        CropPolicy.sent(out.track, out.candidate, out.camera_time_ms)
    assert processor.process(again).outgoing == []


def test_motion_regions_report_how_frames_were_detected(detector, yunet_model, classroom_messages):
    """With motion regions the edge's metrics say how many frames were detected whole, in
    regions or not at all (gauges), so a load run can tell whether motion regions saved anything."""
    from edge.motion import MotionRegionDetector

    processor, metrics = make_processor(MotionRegionDetector(detector, full_every=5), yunet_model)
    run(processor, classroom_messages[:6])
    gauges = metrics.snapshot()["gauges"]
    counts = {m: gauges[f"detector_frames_{m}"] for m in ("full", "regions", "skipped")}
    assert sum(counts.values()) == 6
    assert counts["full"] >= 2  # the first frame, and the 5th one at the latest
    assert counts["full"] < 6  # consecutive frames of a video: not every one whole


def test_without_motion_regions_no_detector_gauges(cached_detector, yunet_model, classroom_messages):
    processor, metrics = make_processor(cached_detector, yunet_model)
    run(processor, classroom_messages[:2])
    assert not any(k.startswith("detector_frames_") for k in metrics.snapshot()["gauges"])


class SlowDetector:
    """The real detector, a second slower (a loaded edge, a big model)."""

    def __init__(self, inner, seconds=1.0):
        self.inner, self.seconds, self.calls = inner, seconds, 0

    def detect(self, frame):
        import time

        time.sleep(self.seconds)  # simulated inference time: the delay is the point
        self.calls += 1
        return self.inner.detect(frame)


def beside_processor(detector, yunet_model, threaded):
    from edge.people import PeopleStage, PersonBoxes

    metrics = Metrics()
    stage = PeopleStage(detector, PersonBoxes(), metrics, log, threaded=threaded)
    processor = FrameProcessor(detector=detector, faces=FaceFinder(yunet_model), tracks=TrackRegistry(0.3, 5000),
                               policy=CropPolicy(), gate=QualityGate(), metrics=metrics, logger=log, people=stage)
    return processor, metrics, stage


def test_beside_the_crops_do_not_wait_for_the_person_detector(cached_detector, yunet_model):
    import time

    slow = SlowDetector(cached_detector)
    processor, metrics, stage = beside_processor(slow, yunet_model, threaded=True)
    stage.start()
    try:
        started = time.monotonic()
        result = processor.process(photo_message("obama_and_biden.jpg", 0, 0, 0, 0, camera="cam-stage"))
        took = time.monotonic() - started
        assert len(result.outgoing) >= 2 and took < slow.seconds  # the crops are ready before any box
        assert all(s.person is None for s in result.subjects)  # the camera's first frame: no boxes yet
        deadline = time.monotonic() + 10
        while metrics.count("people_frames_detected") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        for out in result.outgoing:
            CropPolicy.sent(out.track, out.candidate, out.camera_time_ms)
        # The next frame of the scene: its faces are in the person boxes of the first frame, and
        # each keeps its track (face-derived box -> person box), so nothing new is sent.
        again = processor.process(photo_message("obama_and_biden.jpg", 0, 0, 500, 1, camera="cam-stage"))
        assert again.outgoing == []
        claimed = [s for s in again.subjects if s.face is not None and s.person is not None]
        assert len(claimed) >= 2
        assert {t.track_id for t in processor.tracks.tracker("cam-stage").tracks.values()} >= {
            o.track.track_id for o in result.outgoing
        }
    finally:
        stage.stop()


def test_beside_without_a_thread_is_one_frame_behind_and_deterministic(cached_detector, yunet_model, guido_paul_messages):
    guido, paul, _ = guido_paul_messages
    processor, metrics, _ = beside_processor(cached_detector, yunet_model, threaded=False)
    first = processor.process(guido)
    assert metrics.count("people_frames_detected") == 1 and all(s.person is None for s in first.subjects)
    second = processor.process(paul)  # a scene cut: Guido's boxes are not Paul's
    assert all(s.person is None for s in second.subjects) and metrics.count("scene_cuts") == 1
    assert len(second.outgoing) == 1 and second.outgoing[0].track.track_id != first.outgoing[0].track.track_id
