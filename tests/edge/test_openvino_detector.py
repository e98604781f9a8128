"""The OpenVINO backend: selected by setting, reads the ONNX metadata, one compiled model per input shape."""

from __future__ import annotations

import pytest

from edge.detection import DetectorConfigError
from edge.detector_factory import build_person_detector
from edge.motion import MotionRegionDetector
from edge.settings import EdgeSettings
from tests.edge.conftest import PEOPLE_MODEL, require_model_file

pytest.importorskip("openvino")

from edge.openvino_detector import OpenvinoPersonDetector  # noqa: E402


def test_the_backend_setting_selects_openvino(monkeypatch):
    model = require_model_file(PEOPLE_MODEL)
    monkeypatch.setenv("ROLLCALL_EDGE_BACKEND", "openvino")
    settings = EdgeSettings(models_dir=model.parent, person_model=model.name, person_classes="Normal,Fall")
    wrapped = build_person_detector(settings)
    assert isinstance(wrapped, MotionRegionDetector)  # motion regions on by default, over any CPU backend
    detector = wrapped.detector
    assert isinstance(detector, OpenvinoPersonDetector)
    monkeypatch.setenv("ROLLCALL_EDGE_MOTION_REGIONS", "false")
    plain = EdgeSettings(models_dir=model.parent, person_model=model.name, person_classes="Normal,Fall")
    assert isinstance(build_person_detector(plain), OpenvinoPersonDetector)
    # Names and stride come from the ONNX metadata ultralytics wrote, as for the onnx backend.
    assert detector.names == {0: "Normal", 1: "Fall"} and detector.stride == 32 and detector.dynamic


def test_one_compiled_model_per_frame_shape(classroom_frames):
    detector = OpenvinoPersonDetector(require_model_file(PEOPLE_MODEL), ["Normal", "Fall"], threads=1)
    frame = classroom_frames[0]
    assert len(detector.detect(frame)) == 4
    small = frame[: frame.shape[0] // 2]
    detector.detect(small)
    detector.detect(frame)
    assert sorted(detector._compiled) == sorted({(1, 3, 384, 640), (1, 3, 192, 640)})


def test_unknown_person_class_is_a_config_error():
    with pytest.raises(DetectorConfigError, match="Normal"):
        OpenvinoPersonDetector(require_model_file(PEOPLE_MODEL), ["person"])


def test_an_unreadable_model_is_a_config_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(DetectorConfigError, match="broken.onnx"):
        OpenvinoPersonDetector(bad, ["person"])
