"""FaceEngine: detection on large/small images and the worker-process embedding mode."""

from __future__ import annotations

import os
import signal

import cv2
import numpy as np
import pytest

from rekognition_local.engine import FaceEngine
from rekognition_local.models import resolve_models

from tests.conftest import wait_until

from .conftest import settings_for


def _has_exited(pid: int) -> bool:
    """The process is gone or a zombie (dead, not yet reaped by its parent: the pool's own business)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture(scope="module")
def paths(models_dir, tmp_path_factory):
    return resolve_models(settings_for(models_dir, tmp_path_factory.mktemp("d")))


def test_large_image_is_downscaled_for_detection_but_boxes_stay_in_original_pixels(paths, faces_dir):
    image = cv2.imread(str(faces_dir / "enroll/steve_wozniak/1.jpg"))
    assert image.shape[:2] == (2735, 4098)
    engine = FaceEngine(paths, workers=1, max_side=640)
    faces = engine.analyse(image)
    assert len(faces) == 1 and faces[0].image_size == (4098, 2735)
    x, y, w, h = faces[0].box
    assert w > 600 and x + w <= 4098 and y + h <= 2735  # a ~1000 px face, in full-resolution coordinates
    assert faces[0].embedding is not None and faces[0].embedding.shape == (128,)


def test_worker_processes_give_the_same_embeddings(paths, faces_dir):
    image = cv2.imread(str(faces_dir / "probe/obama_small.jpg"))
    local = FaceEngine(paths, workers=1).analyse(image)[0].embedding
    pooled_engine = FaceEngine(paths, workers=1, processes=1)
    try:
        pooled = pooled_engine.analyse(image)[0].embedding
        assert np.linalg.norm(local - pooled) < 1e-4
        # a worker that dies (e.g. OOM-killed) breaks the pool: it is restarted and the request still succeeds
        assert pooled_engine.executor is not None
        (pid,) = pooled_engine.executor.pids()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: _has_exited(pid), timeout=5, message=f"worker {pid} still running after SIGKILL")
        again = pooled_engine.analyse(image)[0].embedding
        assert np.linalg.norm(local - again) < 1e-4 and pooled_engine.executor.restarts == 1
    finally:
        pooled_engine.close()
