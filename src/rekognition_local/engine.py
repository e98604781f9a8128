"""Face detection (YuNet) and 128-d embeddings (dlib ResNet aligned on 5 landmarks).

:class:`FaceModels` holds one detector + one embedding network and is NOT
thread-safe (YuNet keeps its input size, dlib's network its buffers).
:class:`FaceEngine` keeps a pool of them, so concurrent requests each lease
their own instance and never share one.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import dlib
import numpy as np

from common.dlib_resnet import face_recognizer
from common.metrics import Metrics

from .models import ModelPaths

MIN_DETECT_SIDE = 320  # tiny images (face crops) are upscaled to this before detection
MIN_FACE_REFERENCE = (1920, 1080)  # AWS: the minimum face size holds up to this image size, then grows with it
CROP_PAD = 0.3  # border added when a tight face crop yields no detection
EMBED_MARGIN = 0.6  # context kept around the face box for alignment
EMBED_MAX_FACE = 400  # larger faces are downscaled to this before alignment (dlib's chip is 150 px)

_process_models: tuple[object, object] | None = None  # (predictor, recognizer) in a worker process


def _process_init(shape_path: str, recognizer_path: str) -> None:
    global _process_models
    _process_models = (dlib.shape_predictor(shape_path), face_recognizer(Path(recognizer_path)))


def _process_embed(crop: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    assert _process_models is not None, "worker not initialised"
    predictor, recognizer = _process_models
    return _descriptor(predictor, recognizer, crop, rect)


def _process_ready(_: int) -> bool:
    import time

    time.sleep(0.2)  # long enough that every worker process gets one task
    return _process_models is not None


def min_face_side(min_face_px: float, width: int, height: int) -> float:
    """Shortest face-box side (px) kept in a ``width`` x ``height`` image: AWS's rule, scaled beyond 1920x1080."""
    ref_width, ref_height = MIN_FACE_REFERENCE
    return min_face_px * max(1.0, width / ref_width, height / ref_height)


def _descriptor(predictor: object, recognizer: object, crop: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    # dlib's models are passed as plain objects (they cross process boundaries); dlib has no type stubs.
    shape = predictor(crop, dlib.rectangle(*rect))  # type: ignore[operator]
    return np.asarray(recognizer.compute_face_descriptor(crop, shape), dtype=np.float32)  # type: ignore[attr-defined]


@dataclass
class DetectedFace:
    """A face in original-image pixel coordinates."""

    box: tuple[float, float, float, float]  # x, y, w, h (clipped to the image)
    score: float  # detector confidence 0-1
    landmarks: np.ndarray  # (5, 2): eye (image left), eye (image right), nose, mouth left, mouth right
    image_size: tuple[int, int]  # (width, height)
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


class FaceModels:
    """One YuNet detector and one dlib predictor/ResNet; not thread-safe."""

    def __init__(
        self,
        paths: ModelPaths,
        max_side: int,
        score_threshold: float,
        executor: EmbeddingProcesses | None = None,
        min_face_px: int = 40,
        metrics: Metrics | None = None,
    ) -> None:
        self.max_side = max_side
        self.min_face_px = min_face_px
        self.metrics = metrics
        self.detector = cv2.FaceDetectorYN.create(str(paths.yunet), "", (320, 320), score_threshold, 0.3, 5000)
        self.executor = executor
        if executor is None:
            self.predictor = dlib.shape_predictor(str(paths.shape_predictor))
            self.recognizer = face_recognizer(paths.face_recognition)

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in ``image`` (BGR) at least the minimum face size, largest first.

        Retries once on a padded copy when the detector finds nothing. Faces whose box (in original
        pixels) has a side shorter than :func:`min_face_side` are dropped, as AWS does not find them.
        """
        found = self._detect_scaled(image)
        if not found:
            found = self._detect_padded(image)
        min_side = min_face_side(self.min_face_px, image.shape[1], image.shape[0])
        faces = [face for face in found if min(face.box[2], face.box[3]) >= min_side]
        if self.metrics is not None and len(faces) < len(found):
            self.metrics.inc("faces_below_min_size", len(found) - len(faces))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def _detect_scaled(self, image: np.ndarray) -> list[DetectedFace]:
        height, width = image.shape[:2]
        longest = max(height, width)
        scale = 1.0
        if longest > self.max_side:
            scale = self.max_side / longest
        elif longest < MIN_DETECT_SIDE:
            scale = MIN_DETECT_SIDE / longest
        small = image
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(image, size, interpolation=interpolation)
        self.detector.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.detector.detect(small)
        faces = []
        for row in rows if rows is not None else []:
            x, y, w, h = (float(v) / scale for v in row[:4])
            x1, y1 = max(0.0, x), max(0.0, y)
            x2, y2 = min(float(width), x + w), min(float(height), y + h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            landmarks = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            faces.append(DetectedFace((x1, y1, x2 - x1, y2 - y1), float(row[14]), landmarks, (width, height)))
        return faces

    def _detect_padded(self, image: np.ndarray) -> list[DetectedFace]:
        height, width = image.shape[:2]
        pad_x, pad_y = round(width * CROP_PAD), round(height * CROP_PAD)
        padded = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        faces = []
        for face in self._detect_scaled(padded):
            x, y, w, h = face.box
            x1, y1 = max(0.0, x - pad_x), max(0.0, y - pad_y)
            x2, y2 = min(float(width), x - pad_x + w), min(float(height), y - pad_y + h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            landmarks = face.landmarks - np.array([pad_x, pad_y], dtype=np.float32)
            faces.append(DetectedFace((x1, y1, x2 - x1, y2 - y1), face.score, landmarks, (width, height)))
        return faces

    def embed(self, image: np.ndarray, face: DetectedFace) -> np.ndarray:
        """128-d float32 descriptor of ``face`` (dlib ResNet on the 5-landmark aligned chip)."""
        height, width = image.shape[:2]
        x, y, w, h = face.box
        margin = EMBED_MARGIN * max(w, h)
        cx1, cy1 = max(0, int(x - margin)), max(0, int(y - margin))
        cx2, cy2 = min(width, int(math.ceil(x + w + margin))), min(height, int(math.ceil(y + h + margin)))
        crop = image[cy1:cy2, cx1:cx2]
        scale = min(1.0, EMBED_MAX_FACE / max(w, h, 1.0))
        if scale < 1.0:
            crop = cv2.resize(
                crop,
                (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                interpolation=cv2.INTER_AREA,
            )
        crop = np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        rect = (int((x - cx1) * scale), int((y - cy1) * scale), int((x - cx1 + w) * scale), int((y - cy1 + h) * scale))
        if self.executor is not None:
            return self.executor.embed(crop, rect)
        return _descriptor(self.predictor, self.recognizer, crop, rect)


class EmbeddingProcesses:
    """Worker processes computing descriptors; a pool broken by a dead worker is restarted once per failure."""

    def __init__(self, paths: ModelPaths, processes: int) -> None:
        self._paths = paths
        self._processes = processes
        self._lock = threading.Lock()
        self.restarts = 0
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_process_init,
            initargs=(str(self._paths.shape_predictor), str(self._paths.face_recognition)),
        )
        # start every worker now (model loading) rather than on the first requests
        list(executor.map(_process_ready, range(self._processes)))
        return executor

    def embed(self, crop: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
        """Descriptor of the face in ``crop`` computed in a worker process."""
        executor = self._executor
        try:
            return executor.submit(_process_embed, crop, rect).result()
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:  # the first thread to notice restarts the pool
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._executor = self._start()
                    self.restarts += 1
            return self._executor.submit(_process_embed, crop, rect).result()

    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [p.pid for p in getattr(self._executor, "_processes", {}).values()]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class FaceEngine:
    """A pool of :class:`FaceModels`; thread-safe.

    dlib holds the GIL while it computes a descriptor, so in-process embedding
    uses one core however many threads ask. With ``processes > 0`` descriptors
    are computed in that many worker processes (one dlib model each) and
    detection (OpenCV, which releases the GIL) stays in the request thread.
    """

    def __init__(
        self,
        paths: ModelPaths,
        workers: int = 2,
        max_side: int = 1280,
        score_threshold: float = 0.6,
        processes: int = 0,
        min_face_px: int = 40,
        metrics: Metrics | None = None,
    ) -> None:
        self.executor: EmbeddingProcesses | None = None
        if processes > 0:
            self.executor = EmbeddingProcesses(paths, processes)
            workers = max(workers, processes)
        self._pool: queue.Queue[FaceModels] = queue.Queue()
        for _ in range(workers):
            self._pool.put(FaceModels(paths, max_side, score_threshold, self.executor, min_face_px, metrics))

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        if self.executor is not None:
            self.executor.close()

    @contextlib.contextmanager
    def lease(self) -> Iterator[FaceModels]:
        """Borrow one model instance for the duration of a request."""
        models = self._pool.get()
        try:
            yield models
        finally:
            self._pool.put(models)

    def analyse(self, image: np.ndarray, embed_count: int | None = None) -> list[DetectedFace]:
        """Detect faces (largest first) and embed the first ``embed_count`` (all if None)."""
        with self.lease() as models:
            faces = models.detect(image)
            for face in faces[: len(faces) if embed_count is None else embed_count]:
                face.embedding = models.embed(image, face)
        return faces
