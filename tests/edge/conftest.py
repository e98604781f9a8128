"""Edge test fixtures: real models (from ROLLCALL_EDGE_MODELS_DIR or ./models) and shared assets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, require_asset, require_path

PEOPLE_MODEL = "yolov8s-people-fall.onnx"
PEOPLE_CLASSES = ["Normal", "Fall"]
YUNET = "face_detection_yunet_2023mar.onnx"


def models_dir() -> Path:
    return Path(os.environ.get("ROLLCALL_EDGE_MODELS_DIR", REPO / "models"))


EXPORT_PYTHON = Path(os.environ.get("ROLLCALL_EXPORT_VENV", REPO / ".venv-export")) / "bin" / "python"


def require_export_python() -> Path:
    """The export venv's python (made by scripts/prepare_models.sh). Missing: fails under CI, skips locally."""
    return require_path(EXPORT_PYTHON, "export venv", "made by scripts/prepare_models.sh; or set ROLLCALL_EXPORT_VENV")


def require_model_file(name: str) -> Path:
    """A model prepared by scripts/prepare_models.sh. Missing: fails under CI, skips locally."""
    return require_path(models_dir() / name, "model", "run scripts/prepare_models.sh or set ROLLCALL_EDGE_MODELS_DIR")


def read_frames(path: Path, indices: list[int] | None = None, limit: int | None = None) -> list[np.ndarray]:
    """Frames of a video/GIF (all, the first ``limit``, or those at ``indices``)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        if indices is not None:
            for index in indices:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                ok, frame = cap.read()
                assert ok, f"cannot read frame {index} of {path}"
                frames.append(frame)
            return frames
        while limit is None or len(frames) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    assert frames, f"no frames read from {path}"
    return frames


@pytest.fixture(scope="session")
def people_model() -> Path:
    return require_model_file(PEOPLE_MODEL)


@pytest.fixture(scope="session")
def yunet_model() -> Path:
    return require_model_file(YUNET)


@pytest.fixture(scope="session")
def detector(people_model):
    from edge.onnx_detector import OnnxPersonDetector

    return OnnxPersonDetector(people_model, PEOPLE_CLASSES, conf_threshold=0.25, threads=2)


@pytest.fixture(scope="session")
def classroom_frames() -> list[np.ndarray]:
    return read_frames(require_asset("video/classroom.gif"))


@pytest.fixture()
def quiet_logger() -> logging.Logger:
    return logging.getLogger("rollcall.edge.test")


class CachedDetector:
    """Wraps a real detector and remembers its answer per frame content, so tests that
    replay the same frames through the pipeline run inference once."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.person_classes = inner.person_classes
        self.model_name = inner.model_name
        self._cache: dict[bytes, list] = {}
        self.calls = 0

    def detect(self, frame):
        import hashlib

        key = hashlib.sha1(frame.tobytes()).digest() + bytes(str(frame.shape), "ascii")
        if key not in self._cache:
            self.calls += 1
            self._cache[key] = self.inner.detect(frame)
        return self._cache[key]


@pytest.fixture(scope="session")
def cached_detector(detector):
    return CachedDetector(detector)
