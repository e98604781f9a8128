"""Real detections on the shared assets with the ONNX backend (model from scripts/prepare_models.sh)."""

from pathlib import Path

import pytest

from edge.detection import DetectorConfigError
from edge.models import MissingModelError
from edge.onnx_detector import OnnxPersonDetector
from tests.conftest import require_asset
from tests.edge.conftest import read_frames


def test_four_people_in_classroom_frames(detector, classroom_frames):
    for index in (0, 15, 30, 44):
        people = detector.detect(classroom_frames[index])
        assert len(people) == 4, f"frame {index}: {people}"
        assert all(p.class_name in ("Normal", "Fall") for p in people)
        assert all(0 <= p.box[0] < p.box[2] <= 480 and 0 <= p.box[1] < p.box[3] <= 270 for p in people)


def test_people_walking_in_one_by_one(detector):
    frames = read_frames(require_asset("video/one-by-one-person-detection.mp4"), indices=[100, 300, 800, 1000])
    for frame in frames:
        people = detector.detect(frame)
        assert len(people) >= 1 and people[0].score > 0.5


def test_a_single_person_frame_yields_exactly_one_person(detector, classroom_frames):
    """Regression: the system this replaces ignored a frame with one person (off-by-one)."""
    frame = read_frames(require_asset("video/one-by-one-person-detection.mp4"), indices=[300])[0]
    assert len(detector.detect(frame)) == 1
    # One person cut out of the classroom: still exactly one.
    full = classroom_frames[0]
    people = detector.detect(full)
    x1, y1, x2, y2 = (int(v) for v in max(people, key=lambda p: p.score).box)
    crop = full[max(0, y1 - 10) : y2 + 10, max(0, x1 - 10) : x2 + 10]
    found = detector.detect(crop)
    assert len(found) == 1, found


def test_nobody_in_the_bottle_video(detector):
    for frame in read_frames(require_asset("video/bottle-detection.mp4"), indices=[0, 100, 600]):
        assert detector.detect(frame) == []


def test_missing_model_names_the_file_and_the_command(tmp_path):
    with pytest.raises(MissingModelError) as info:
        OnnxPersonDetector(tmp_path / "yolov8n.onnx", ["person"])
    message = str(info.value)
    assert "yolov8n.onnx" in message and "rollcall-models fetch yolov8n.pt" in message and "export" in message


def test_person_classes_must_exist_in_the_model(people_model):
    with pytest.raises(DetectorConfigError, match="Normal"):
        OnnxPersonDetector(people_model, ["person"])
    only_fall = OnnxPersonDetector(people_model, ["1"])
    assert only_fall.person_classes == {1: "Fall"}
