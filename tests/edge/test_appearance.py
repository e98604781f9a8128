"""Scene cuts and colour signatures (edge.appearance) on real frames."""

import itertools

import cv2
import numpy as np
import pytest

from demo_seed.frames import letterbox
from edge.appearance import (
    APPEARANCE_SPLIT_DISTANCE,
    SCENE_CUT_DIFF,
    SceneCutDetector,
    blend_signatures,
    colour_signature,
    signature_distance,
)
from edge.tracker import IouTracker
from tests.conftest import require_asset
from tests.edge.conftest import read_frames

FRAME_W, FRAME_H = 480, 270  # the size of the shared sample videos


def probe_frame(name: str) -> np.ndarray:
    image = cv2.imread(str(require_asset(f"faces/probe/{name}")))
    assert image is not None, name
    return letterbox(image, FRAME_W, FRAME_H)


@pytest.fixture(scope="module")
def guido_then_paul():
    return probe_frame("test_guido_van_rossum.jpg"), probe_frame("test_paul_allen.jpg")


@pytest.fixture(scope="module")
def walking_frames():
    return read_frames(require_asset("video/face-demographics-walking.gif"))


@pytest.fixture(scope="module")
def walking_people(cached_detector, walking_frames):
    """Person boxes and colour signatures of the first frames of the walking video, left to right."""
    out = []
    for frame in walking_frames[:4]:
        boxes = sorted((p.box for p in cached_detector.detect(frame)), key=lambda b: b[0] + b[2])
        assert len(boxes) == 2
        out.append([(box, colour_signature(frame, box)) for box in boxes])
    return out


def test_a_cut_between_two_photos_of_different_people_is_detected(guido_then_paul):
    guido, paul = guido_then_paul
    assert guido.shape == paul.shape == (FRAME_H, FRAME_W, 3)
    scene = SceneCutDetector()
    assert scene.is_cut(guido) is False and scene.last_score == 0.0  # the first frame is no cut
    assert scene.is_cut(paul) is True
    assert 18 < scene.last_score < 26  # about 22 on this pair; the default threshold is 16
    assert scene.last_score > SCENE_CUT_DIFF
    assert scene.is_cut(paul) is False and scene.last_score == 0.0  # the same scene again
    assert scene.is_cut(guido) is True  # and back


def test_the_threshold_decides():
    guido, paul = probe_frame("test_guido_van_rossum.jpg"), probe_frame("test_paul_allen.jpg")
    lenient = SceneCutDetector(threshold=30)
    lenient.is_cut(guido)
    assert lenient.is_cut(paul) is False and lenient.last_score > SCENE_CUT_DIFF


def test_consecutive_frames_of_a_walking_video_are_no_cut(walking_frames):
    assert len(walking_frames) == 35
    scene = SceneCutDetector()
    cuts, scores = [], []
    for frame in walking_frames:
        cuts.append(scene.is_cut(frame))
        scores.append(scene.last_score)
    assert not any(cuts)
    assert 0 < max(scores) < SCENE_CUT_DIFF / 4  # people move, the scene stays (about 1 here)


def test_a_grey_frame_and_a_colour_frame_compare(guido_then_paul):
    guido, _ = guido_then_paul
    scene = SceneCutDetector()
    scene.is_cut(guido)
    assert scene.is_cut(cv2.cvtColor(guido, cv2.COLOR_BGR2GRAY)) is False  # same picture, one channel


def test_colour_signature_is_a_normalised_histogram_of_the_box():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = (0, 0, 255)  # red left half (BGR)
    frame[:, 100:] = (255, 0, 0)  # blue right half
    red = colour_signature(frame, (10, 10, 90, 90))
    blue = colour_signature(frame, (110, 10, 190, 90))
    assert red.shape == (16, 8) and red.sum() == pytest.approx(1.0)
    assert signature_distance(red, red) == pytest.approx(0.0, abs=1e-6)
    assert signature_distance(red, colour_signature(frame, (20, 20, 80, 95))) == pytest.approx(0.0, abs=1e-6)
    assert signature_distance(red, blue) == pytest.approx(1.0, abs=1e-6)
    half = colour_signature(frame, (50, 10, 150, 90))
    assert 0.2 < signature_distance(red, half) < signature_distance(red, blue)
    assert colour_signature(frame, (10, 10, 12, 90)) is None  # too narrow
    assert colour_signature(frame, (250, 10, 300, 90)) is None  # outside the frame
    assert colour_signature(frame, (-50, -50, 40, 40)) is not None  # clipped to the frame


def test_blended_signature_drifts_slowly_and_stays_normalised():
    frame = np.zeros((50, 100, 3), np.uint8)
    frame[:, :50] = (0, 0, 255)
    frame[:, 50:] = (0, 255, 0)
    red, green = colour_signature(frame, (0, 0, 50, 50)), colour_signature(frame, (50, 0, 100, 50))
    mixed = blend_signatures(red, green)
    assert mixed.sum() == pytest.approx(1.0)
    assert signature_distance(mixed, red) < signature_distance(mixed, green)


def test_the_same_person_keeps_a_close_signature_and_two_people_differ(walking_people):
    for previous, current in zip(walking_people, walking_people[1:]):
        for (_, before), (_, after) in zip(previous, current):
            assert signature_distance(before, after) < APPEARANCE_SPLIT_DISTANCE / 2  # no false split
    for people in walking_people:
        (_, left), (_, right) = people
        assert signature_distance(left, right) > APPEARANCE_SPLIT_DISTANCE  # a swap would be seen


def test_people_who_swap_places_get_new_tracks(walking_people):
    first, second = walking_people[0], walking_people[1]
    tracker = IouTracker(0.3, ttl_ms=5000, ids=itertools.count(1))
    before, _ = tracker.update([b for b, _ in first], 0, [s for _, s in first])
    # Each person box of the next frame carries the other person's colours.
    boxes, signatures = [b for b, _ in second], [s for _, s in reversed(second)]
    after, ended = tracker.update(boxes, 70, signatures)
    assert {t.track_id for t in after}.isdisjoint(t.track_id for t in before)
    assert sorted(t.track_id for t in ended) == sorted(t.track_id for t in before) and tracker.splits == 2
    # Control: the same frames without the swap keep both tracks.
    tracker = IouTracker(0.3, ttl_ms=5000, ids=itertools.count(1))
    before, _ = tracker.update([b for b, _ in first], 0, [s for _, s in first])
    after, ended = tracker.update([b for b, _ in second], 70, [s for _, s in second])
    assert [t.track_id for t in after] == [t.track_id for t in before] and ended == [] and tracker.splits == 0
