"""Box agreement on the shared frames: every CPU backend finds the boxes ultralytics' real predictor
found (tests/edge/data/ultralytics_reference_boxes.json, written by benchmarks/detector_benchmark.py
--write-reference): the same person count in every frame and a mean IoU of matched boxes >= 0.9.
Assets or models missing: fails under CI, skips locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.onnx_detector import OnnxPersonDetector
from edge.tracker import iou
from tests.conftest import require_asset
from tests.edge.conftest import PEOPLE_CLASSES, PEOPLE_MODEL, read_frames, require_model_file

REFERENCE = Path(__file__).parent / "data" / "ultralytics_reference_boxes.json"
MIN_MEAN_IOU = 0.9


def reference_frames() -> list[tuple]:
    """(frame, reference boxes) for every frame of the fixture."""
    frames = json.loads(REFERENCE.read_text())["frames"]
    out = []
    for asset in dict.fromkeys(f["asset"] for f in frames):
        wanted = [f for f in frames if f["asset"] == asset]
        images = read_frames(require_asset(asset), indices=[f["index"] for f in wanted])
        assert len(images) == len(wanted), f"{asset}: read {len(images)} of {len(wanted)} frames"
        out += [(image, f["boxes"]) for image, f in zip(images, wanted, strict=True)]
    return out


def agreement(detector, frames: list[tuple]) -> tuple[list[int], float]:
    """(indices of frames whose person count differs, mean IoU of greedily matched boxes)."""
    differing, ious = [], []
    for i, (frame, expected) in enumerate(frames):
        found = [d.box for d in detector.detect(frame)]
        if len(found) != len(expected):
            differing.append(i)
        free = [tuple(box[:4]) for box in expected]
        for box in found:
            if free:
                best = max(free, key=lambda other: iou(box, other))
                ious.append(iou(box, best))
                free.remove(best)
    return differing, sum(ious) / max(1, len(ious))


@pytest.fixture(scope="module")
def frames():
    return reference_frames()


def test_the_fixture_covers_both_videos_and_people():
    data = json.loads(REFERENCE.read_text())
    assert {f["asset"] for f in data["frames"]} == {"video/classroom.gif", "video/one-by-one-person-detection.mp4"}
    assert sum(len(f["boxes"]) for f in data["frames"]) >= 60


def test_onnx_backend_agrees_with_ultralytics(frames):
    detector = OnnxPersonDetector(require_model_file(PEOPLE_MODEL), PEOPLE_CLASSES, threads=1)
    differing, mean_iou = agreement(detector, frames)
    assert differing == [] and mean_iou >= MIN_MEAN_IOU, (differing, mean_iou)


def test_openvino_backend_agrees_with_ultralytics(frames):
    pytest.importorskip("openvino")
    from edge.openvino_detector import OpenvinoPersonDetector

    detector = OpenvinoPersonDetector(require_model_file(PEOPLE_MODEL), PEOPLE_CLASSES, threads=1)
    differing, mean_iou = agreement(detector, frames)
    assert differing == [] and mean_iou >= MIN_MEAN_IOU, (differing, mean_iou)


def test_a_smaller_input_loses_people_so_it_is_not_the_default(frames):
    """Why the input stays at 640: at 320 people are missed on these frames (measured, not assumed)."""
    detector = OnnxPersonDetector(require_model_file(PEOPLE_MODEL), PEOPLE_CLASSES, input_size=320, threads=1)
    differing, _ = agreement(detector, frames)
    assert len(differing) >= 5
