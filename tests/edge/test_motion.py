"""Motion regions: skip static frames, detect moving regions at full-frame scale, full frames when due,
and on the shared videos the same people as detecting every whole frame."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detection import Detection, detect_for_camera
from edge.motion import MotionRegionDetector
from edge.onnx_detector import OnnxPersonDetector
from edge.tracker import iou
from tests.conftest import require_asset
from tests.edge.conftest import PEOPLE_CLASSES, PEOPLE_MODEL, read_frames, require_model_file


class Recorder:
    """A detector that remembers what it was given: on a whole frame it reports the static object's
    box, on a region one box over the region."""

    input_size = 640
    stride = 32

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], int | None]] = []

    def detect(self, frame: np.ndarray, input_size: int | None = None) -> list[Detection]:
        self.calls.append((frame.shape, input_size))
        h, w = frame.shape[:2]
        if (h, w) == (360, 640):
            return [Detection((40.0, 40.0, 120.0, 120.0), 0.9, 0, "person")]
        return [Detection((1.0, 1.0, w - 1.0, h - 1.0), 0.8, 0, "person")]


def scene(square_at: int | None = None) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[40:120, 40:120] = 200  # a static object
    if square_at is not None:
        frame[200:260, square_at : square_at + 60] = 250
    return frame


def test_a_static_camera_is_detected_once_per_full_frame_period():
    inner = Recorder()
    motion = MotionRegionDetector(inner, full_every=4)
    results = [motion.detect_camera("cam", scene()) for _ in range(8)]
    assert [shape for shape, _ in inner.calls] == [(360, 640, 3)] * 2  # frames 0 and 4: whole frames
    assert motion.stats.full == 2 and motion.stats.skipped == 6
    assert all(r == results[0] for r in results)  # the last boxes stand


def test_motion_is_detected_in_its_region_only_at_full_frame_scale():
    inner = Recorder()
    motion = MotionRegionDetector(inner, full_every=100)
    motion.detect_camera("cam", scene())
    found = motion.detect_camera("cam", scene(square_at=400))
    (shape, size) = inner.calls[-1]
    assert shape[0] < 360 and shape[1] < 640  # a region, not the frame
    assert size is not None and size % 32 == 0 and size <= 32 * -(-max(shape[:2]) // 32)  # no upscaling
    assert motion.stats.regions == 1
    region_box = [d for d in found if d.box[0] > 200]
    assert (
        region_box and 350 <= region_box[0].box[0] <= 400 and region_box[0].box[2] >= 460
    )  # mapped back to frame pixels
    assert any(d.box == (40.0, 40.0, 120.0, 120.0) for d in found)  # the static box outside the region stands


def test_scene_cuts_new_sizes_and_new_cameras_get_whole_frames():
    inner = Recorder()
    motion = MotionRegionDetector(inner, full_every=100)
    motion.detect_camera("cam", scene())
    motion.detect_camera("cam", 255 - scene())  # everything changed
    motion.detect_camera("cam", np.zeros((200, 300, 3), np.uint8))  # another size
    motion.detect_camera("other", scene())
    assert motion.stats.full == 4 and motion.stats.regions == 0


def test_camera_state_is_bounded():
    motion = MotionRegionDetector(Recorder(), max_cameras=3)
    for i in range(10):
        motion.detect_camera(f"cam-{i}", scene())
    assert len(motion._cameras) == 3 and "cam-9" in motion._cameras


def test_plain_detectors_are_called_without_a_camera():
    inner = Recorder()
    assert detect_for_camera(inner, "cam", scene()) and inner.calls[0][1] is None


@pytest.mark.parametrize("video", ["classroom.gif", "head-pose-face-detection-female-and-male.gif"])
def test_on_the_shared_videos_the_same_people_as_whole_frames(video):
    """Frame by frame: same person count and mean IoU >= 0.9 against detecting every whole frame,
    at a fraction of the detector's work."""
    frames = read_frames(require_asset(f"video/{video}"), limit=30)
    model = require_model_file(PEOPLE_MODEL)
    whole = OnnxPersonDetector(model, PEOPLE_CLASSES, threads=1)
    motion = MotionRegionDetector(OnnxPersonDetector(model, PEOPLE_CLASSES, threads=1))
    differing, ious = [], []
    for i, frame in enumerate(frames):
        expected = [d.box for d in whole.detect(frame)]
        got = [d.box for d in motion.detect_camera("cam", frame)]
        if len(got) != len(expected):
            differing.append(i)
        for box in got:
            if expected:
                best = max(expected, key=lambda other: iou(box, other))
                ious.append(iou(box, best))
                expected.remove(best)
    assert differing == [] and sum(ious) / len(ious) >= 0.9, (differing, sum(ious) / len(ious))
    assert motion.stats.full < len(frames) / 2
