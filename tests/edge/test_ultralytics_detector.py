"""The ultralytics backend against the ONNX backend.

* In-process: only where ultralytics is installed (never in the main venv, which has no
  torch by design) -> skipped there with that reason.
* Through the export venv (.venv-export, made by scripts/prepare_models.sh): Ultralytics'
  own predictor on the .pt weights vs our ONNX backend on the same frames. Here
  torchvision's NMS kernel is missing, so the worker stands ultralytics' own TorchNMS in for
  it (everything else - letterbox, model, decode - is ultralytics'). Under CI the export
  venv must exist (test.sh runs prepare_models.sh); locally a missing one skips.
"""

import importlib.util
import json
import subprocess

import numpy as np
import pytest

from edge.tracker import iou
from tests.conftest import REPO
from tests.edge.conftest import PEOPLE_CLASSES, require_export_python, require_model_file


def assert_same_people(onnx_dets, other_boxes):
    assert len(onnx_dets) == len(other_boxes)
    for det in onnx_dets:
        best = max(iou(det.box, tuple(b[:4])) for b in other_boxes)
        assert best > 0.85, (det, other_boxes)


@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None, reason="ultralytics is not installed in this venv (the main venv has no torch by design); see the export-venv comparison below")
def test_ultralytics_backend_in_process(detector, classroom_frames):
    from edge.ultralytics_detector import UltralyticsPersonDetector, UltralyticsUnavailable

    ultra = UltralyticsPersonDetector(require_model_file("yolov8s-people-fall.pt"), PEOPLE_CLASSES)
    try:
        found = ultra.detect(classroom_frames[0])
    except UltralyticsUnavailable as exc:
        pytest.skip(str(exc))
    assert_same_people(detector.detect(classroom_frames[0]), [list(d.box) for d in found])


def test_onnx_backend_matches_ultralytics_predictor(detector, classroom_frames, tmp_path):
    pt = require_model_file("yolov8s-people-fall.pt")
    export_python = require_export_python()
    frames = [classroom_frames[i] for i in (0, 22, 44)]
    npz = tmp_path / "frames.npz"
    np.savez(npz, **{f"frame_{i}": f for i, f in enumerate(frames)})
    out = subprocess.run(
        [str(export_python), str(REPO / "benchmarks" / "edge_ultralytics_worker.py"), str(npz), str(pt),
         "--classes", "0,1", "--nms-shim"],
        capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["available"], report
    for frame, boxes in zip(frames, report["boxes"]):
        assert_same_people(detector.detect(frame), boxes)
