"""Detect people only where something moved (Frigate's "regions"), with a periodic full frame.

Per camera, each frame is compared with the camera's previous frame on a small blurred grey copy.
- No motion: the last detections stand (seated students stay where they were), no inference.
- Some motion: the moving areas, grown by a margin and to cover every last detection they touch,
  become regions; only those are run through the detector, at the same scale as a full frame
  (a region of a quarter of the frame costs about a quarter of a frame), and the last detections
  outside every region are kept.
- Every ``full_every``-th frame, a first frame, a new frame size, or motion over most of the
  frame (a scene cut, the camera moved): the whole frame.
Per-camera state is bounded (least recently seen cameras are forgotten first).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from .detection import Detection

#: Longer side of the grey copy motion is measured on.
MOTION_SIDE = 192
#: Motion over more than this share of the frame, or regions over this share: a full frame.
FULL_FRAME_SHARE = 0.5


@dataclass
class _Camera:
    grey: np.ndarray
    shape: tuple[int, ...]
    detections: list[Detection]
    since_full: int = 0


@dataclass
class MotionStats:
    """What the region detector did, frame by frame (for metrics and benchmarks)."""

    full: int = 0
    regions: int = 0
    skipped: int = 0
    region_share_sum: float = 0.0  # sum over region frames of the share of the frame detected (bounded: no list)

    def mean_region_share(self) -> float:
        """Mean share of the frame detected on region frames (0 when there was none)."""
        return self.region_share_sum / self.regions if self.regions else 0.0


class MotionRegionDetector:
    """Wraps a detector that has ``detect(frame, input_size=...)`` (the ONNX / OpenVINO backends)."""

    def __init__(
        self,
        detector,
        full_every: int = 5,
        threshold: int = 20,
        min_area: float = 0.002,
        margin: float = 0.25,
        max_cameras: int = 1000,
    ) -> None:
        self.detector = detector
        self.full_every = max(1, int(full_every))
        self.threshold = threshold
        self.min_area = min_area
        self.margin = margin
        self.max_cameras = max_cameras
        self.stats = MotionStats()
        self._cameras: OrderedDict[str, _Camera] = OrderedDict()
        self._lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """A frame without a camera: always the whole frame."""
        return self.detector.detect(frame)

    def detect_camera(self, camera_id: str, frame: np.ndarray) -> list[Detection]:
        """People in ``frame`` of ``camera_id``, detecting only where it moved since its last frame."""
        grey = _small_grey(frame)
        with self._lock:
            state = self._cameras.pop(camera_id, None)
        mode, regions = self._plan(state, frame, grey)
        if mode == "full" or state is None:
            found = self.detector.detect(frame)
            state = _Camera(grey, frame.shape, found)
            self.stats.full += 1
        elif mode == "skip":
            found = state.detections
            state.grey, state.since_full = grey, state.since_full + 1
            self.stats.skipped += 1
        else:
            found = self._detect_regions(frame, regions, state.detections)
            state.grey, state.detections, state.since_full = grey, found, state.since_full + 1
            self.stats.regions += 1
        with self._lock:
            self._cameras[camera_id] = state
            while len(self._cameras) > self.max_cameras:
                self._cameras.popitem(last=False)
        return list(found)

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (its stream ended): its next frame is a full one."""
        with self._lock:
            self._cameras.pop(camera_id, None)

    # --- planning ---------------------------------------------------------------------------
    def _plan(
        self, state: _Camera | None, frame: np.ndarray, grey: np.ndarray
    ) -> tuple[str, list[tuple[int, int, int, int]]]:
        if state is None or state.shape != frame.shape or state.since_full + 1 >= self.full_every:
            return "full", []
        diff = cv2.absdiff(grey, state.grey)
        mask = (diff > self.threshold).astype(np.uint8)
        if mask.mean() > FULL_FRAME_SHARE:
            return "full", []
        grown = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
        count, _, boxes, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        height, width = frame.shape[:2]
        sx, sy = width / grey.shape[1], height / grey.shape[0]
        min_px = self.min_area * grey.shape[0] * grey.shape[1]
        moving = [(x * sx, y * sy, (x + w) * sx, (y + h) * sy) for x, y, w, h, area in boxes[1:count] if area >= min_px]
        if not moving:
            return "skip", []
        regions = self._regions(moving, state.detections, width, height)
        covered = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions)
        if covered > FULL_FRAME_SHARE * width * height:
            return "full", []
        return "regions", regions

    def _regions(self, moving, detections: list[Detection], width: int, height: int) -> list[tuple[int, int, int, int]]:
        """Moving boxes grown by the margin, merged, grown to cover the last detections they touch."""
        boxes = []
        for x1, y1, x2, y2 in moving:
            mx, my = (x2 - x1) * self.margin + 8, (y2 - y1) * self.margin + 8
            boxes.append([x1 - mx, y1 - my, x2 + mx, y2 + my])
        changed = True
        while changed:
            changed = False
            for det in detections:
                for box in boxes:
                    if _overlaps(box, det.box) and not _contains(box, det.box):
                        box[:] = _union(box, det.box)
                        changed = True
            merged: list[list[float]] = []
            for box in boxes:
                for other in merged:
                    if _overlaps(box, other):
                        other[:] = _union(box, other)
                        changed = True
                        break
                else:
                    merged.append(box)
            boxes = merged
        return [
            (max(0, int(b[0])), max(0, int(b[1])), min(width, int(math.ceil(b[2]))), min(height, int(math.ceil(b[3]))))
            for b in boxes
        ]

    def _detect_regions(self, frame: np.ndarray, regions, previous: list[Detection]) -> list[Detection]:
        height, width = frame.shape[:2]
        scale = self.detector.input_size / max(height, width)
        found = [d for d in previous if not any(_overlaps(r, d.box) for r in regions)]
        share = 0.0
        for x1, y1, x2, y2 in regions:
            crop = frame[y1:y2, x1:x2]
            share += (x2 - x1) * (y2 - y1) / (width * height)
            stride = int(getattr(self.detector, "stride", 32))
            size = max(stride, stride * math.ceil(max(crop.shape[:2]) * scale / stride))
            for d in self.detector.detect(crop, input_size=size):
                bx1, by1, bx2, by2 = d.box
                found.append(Detection((bx1 + x1, by1 + y1, bx2 + x1, by2 + y1), d.score, d.class_id, d.class_name))
        self.stats.region_share_sum += share
        return sorted(found, key=lambda d: -d.score)


def _small_grey(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = MOTION_SIDE / max(height, width)
    small = cv2.resize(
        frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return cv2.GaussianBlur(grey, (5, 5), 0)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contains(a, b) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3]


def _union(a, b) -> list[float]:
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
