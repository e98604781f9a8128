"""dlib's face-recognition ResNet rebuilt for ONNX Runtime (common.dlib_resnet) gives dlib's own
descriptors: the same real faces (shared assets) through both, compared number by number."""

from __future__ import annotations

from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest

from common.dlib_resnet import DlibFormatError, DlibResNet, face_recognizer, read_layers
from common.models import DLIB_RESNET, DLIB_SHAPE_5, dlib_models_dir
from tests.conftest import require_asset

PEOPLE = ("1", "2", "3", "4")


@pytest.fixture(scope="module")
def models() -> Path:
    return dlib_models_dir()


def faces_of(models: Path) -> list[tuple[np.ndarray, object]]:
    """(RGB image, 5-point shape) of an enrolment photo of each person, found by dlib."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / DLIB_SHAPE_5))
    out = []
    enroll = require_asset("faces/enroll")
    for person in sorted(p for p in enroll.iterdir() if p.is_dir())[: len(PEOPLE)]:
        photo = sorted(person.glob("*.jpg"))[0]
        rgb = np.ascontiguousarray(cv2.imread(str(photo))[:, :, ::-1])
        boxes = detector(rgb, 1)
        assert boxes, f"dlib found no face in {photo}"
        out.append((rgb, predictor(rgb, boxes[0])))
    return out


def test_the_file_reads_as_dlibs_resnet(models: Path) -> None:
    layers = read_layers((models / DLIB_RESNET).read_bytes())
    kinds = [layer.kind for layer in layers]
    # dlib's anet_type: 29 convolutions, each followed by an affine (batch norm), 14 residual adds
    assert kinds[0] == "input" and kinds[-1] == "fc"
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    assert layers[0].ints == [150]
    assert layers[-1].ints == [128, 256]


def test_descriptors_match_dlibs_own(models: Path) -> None:
    dlib_net = dlib.face_recognition_model_v1(str(models / DLIB_RESNET))
    onnx_net = DlibResNet(models / DLIB_RESNET)
    faces = faces_of(models)
    ours = [onnx_net.compute_face_descriptor(rgb, shape) for rgb, shape in faces]
    theirs = [np.asarray(dlib_net.compute_face_descriptor(rgb, shape), dtype=np.float32) for rgb, shape in faces]
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == (128,) and a.dtype == np.float32
        assert np.linalg.norm(a - b) < 1e-4  # dlib's own match threshold is 0.6
    # and they still tell people apart: different people are far apart in both
    assert min(np.linalg.norm(ours[i] - ours[j]) for i in range(len(ours)) for j in range(i)) > 0.4


def test_a_batch_gives_each_chips_descriptor(models: Path) -> None:
    net = DlibResNet(models / DLIB_RESNET)
    chips = np.stack([np.asarray(dlib.get_face_chip(rgb, shape, 150, 0.25)) for rgb, shape in faces_of(models)])
    batch = net.descriptors(chips)
    one_by_one = np.stack([net.descriptors(chip[None])[0] for chip in chips])
    assert batch.shape == (len(chips), 128)
    assert np.allclose(batch, one_by_one, atol=1e-5)


def test_a_file_that_is_not_the_network_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DlibFormatError):
        read_layers(b"\x01\x01\x01\x0bnot a model" + bytes(64))
    data = (dlib_models_dir() / DLIB_RESNET).read_bytes()
    with pytest.raises(DlibFormatError):  # one batch norm lost
        read_layers(data.replace(b"\x01\x07affine_", b"\x01\x07affinx_", 1))
    with pytest.raises(DlibFormatError):  # a download cut short
        read_layers(data[: len(data) // 2])


def test_falls_back_to_dlibs_own_when_the_file_cannot_be_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "resnet.dat"
    path.write_bytes(b"\x01\x01")
    with pytest.raises(RuntimeError):  # dlib's own loader refuses the file too: no silent success
        face_recognizer(path)
    assert any(getattr(r, "event", None) == "face_recognizer_fallback" for r in caplog.records)
    assert isinstance(face_recognizer(dlib_models_dir() / DLIB_RESNET), DlibResNet)
