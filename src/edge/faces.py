"""Faces in a frame (YuNet via cv2.FaceDetectorYN), their quality and crops.

Faces are found once per frame over the whole image (not per person box), so one face can
never be counted twice by two overlapping person boxes, and two faces inside one person box
are both found. :mod:`edge.association` then gives each face to at most one person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .models import require_model

Landmarks = tuple[tuple[float, float], ...]  # YuNet's 5 points: two eyes, nose tip, two mouth corners

#: Faces larger than this (shorter side, px) add nothing to a crop's quality rank.
QUALITY_SIZE_CAP_PX = 160.0
#: Sharpness (variance of the Laplacian) from which a crop counts as fully sharp.
QUALITY_SHARP_AT = 100.0


@dataclass(frozen=True)
class Face:
    """One face in frame pixels."""

    box: tuple[int, int, int, int]
    score: float
    blur: float  # variance of the Laplacian of the grey face (higher = sharper)
    face_px: int  # shorter side of the face box
    landmarks: Landmarks = ()

    def frontal(self) -> float:
        """1.0 for a face looking at the camera, towards 0 for a profile (from the landmarks:
        how far the nose tip sits from the middle of the eyes and mouth, per eye distance).
        1.0 when there are no landmarks."""
        if len(self.landmarks) != 5:
            return 1.0
        (ex1, ey1), (ex2, ey2), (nx, _), (mx1, _), (mx2, _) = self.landmarks
        eye_distance = math.hypot(ex2 - ex1, ey2 - ey1)
        if eye_distance < 1e-6:
            return 0.0
        midline = ((ex1 + ex2) / 2 + (mx1 + mx2) / 2) / 2
        offset = abs(nx - midline) / eye_distance  # about 0.5 for a full profile
        return max(0.0, 1.0 - 2.0 * offset)

    def quality(self) -> float:
        """One number to rank crops of one person: frontal, big, sharp and sure is better."""
        size = min(float(self.face_px), QUALITY_SIZE_CAP_PX) / QUALITY_SIZE_CAP_PX
        sharp = min(1.0, self.blur / QUALITY_SHARP_AT)
        return size * self.score * sharp * (0.2 + 0.8 * self.frontal())


@dataclass(frozen=True)
class QualityGate:
    """Minimum face size, sharpness and confidence worth sending to the cloud.

    ``min_face_px`` is the recognition minimum (40 px: Rekognition's own smallest face);
    smaller faces are counted, never searched.
    """

    min_face_px: int = 40
    min_blur: float = 20.0
    min_score: float = 0.6

    def reason_to_reject(self, face: Face) -> str | None:
        """None when the face is good enough, else a short counter-friendly reason."""
        if face.score < self.min_score:
            return "low_score"
        if face.face_px < self.min_face_px:
            return "too_small"
        if face.blur < self.min_blur:
            return "blurry"
        return None


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian (a standard focus measure)."""
    if gray.size == 0:
        return 0.0
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


#: YuNet still finds faces of this many pixels (its finest anchors are 8-16 px): a frame is never
#: downscaled so far that a face of the smallest size worth sending falls under it.
YUNET_RELIABLE_FACE_PX = 20


class FaceFinder:
    """Finds the faces of a frame with YuNet.

    Not thread-safe (YuNet keeps its input size): use one per worker thread. Frames whose
    longer side exceeds ``max_side`` are searched on a downscaled copy - YuNet's cost grows with
    the pixels (1280x720: ~130 ms of CPU, 640x360: ~33 ms) - but never below the scale at which a
    face of ``keep_face_px`` (the smallest face sent for recognition) is
    :data:`YUNET_RELIABLE_FACE_PX` px; boxes are returned in the frame's own pixels.
    """

    def __init__(
        self,
        model_path: Path,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_side: int = 1920,
        top_k: int = 200,
        keep_face_px: int = 0,
    ) -> None:
        require_model(model_path)
        self.score_threshold = score_threshold
        self.max_side = max_side
        self.min_scale = min(1.0, YUNET_RELIABLE_FACE_PX / keep_face_px) if keep_face_px > 0 else 0.0
        self._detector = cv2.FaceDetectorYN.create(
            str(model_path), "", (320, 320), score_threshold, nms_threshold, top_k
        )

    def detect_faces(self, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """All faces in ``image`` as ((x1, y1, x2, y2), score), best first."""
        return [(face.box, face.score) for face in self.detect(image, measure=False)]

    def detect(self, image: np.ndarray, measure: bool = True) -> list[Face]:
        """All faces in ``image`` (BGR), best score first, with landmarks and (if ``measure``)
        sharpness."""
        height, width = image.shape[:2]
        if width < 10 or height < 10:
            return []
        scale = min(1.0, max(self.max_side / max(width, height), self.min_scale))
        small = image
        if scale < 1.0:
            small = cv2.resize(
                image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
            )
        self._detector.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._detector.detect(small)
        found = []
        for row in rows if rows is not None else []:
            x, y, w, h = (float(v) / scale for v in row[:4])
            x1, y1 = max(0, int(round(x))), max(0, int(round(y)))
            x2, y2 = min(width, int(round(x + w))), min(height, int(round(y + h)))
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            points = tuple((float(row[4 + 2 * i]) / scale, float(row[5 + 2 * i]) / scale) for i in range(5))
            blur = 0.0
            if measure:
                blur = sharpness(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY))
            found.append(
                Face(
                    box=(x1, y1, x2, y2),
                    score=float(row[14]),
                    blur=blur,
                    face_px=min(x2 - x1, y2 - y1),
                    landmarks=points,
                )
            )
        found.sort(key=lambda f: f.score, reverse=True)
        return found


def crop_face(frame: np.ndarray, box: tuple[int, int, int, int], padding: float) -> np.ndarray:
    """The face box plus ``padding`` (fraction of its size) on each side, clipped to the frame."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    px, py = (x2 - x1) * padding, (y2 - y1) * padding
    cx1, cy1 = max(0, int(x1 - px)), max(0, int(y1 - py))
    cx2, cy2 = min(width, int(round(x2 + px))), min(height, int(round(y2 + py)))
    return frame[cy1:cy2, cx1:cx2].copy()
