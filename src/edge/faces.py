"""Faces inside person boxes (YuNet via cv2.FaceDetectorYN), quality checks and crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .detection import Detection
from .models import require_model


@dataclass(frozen=True)
class Face:
    """The best face found in one person box, in frame pixels."""

    box: tuple[int, int, int, int]
    score: float
    blur: float  # variance of the Laplacian of the grey face (higher = sharper)
    face_px: int  # shorter side of the face box

    def quality(self) -> float:
        """One number to rank crops of the same person: bigger, sharper, surer is better."""
        return self.face_px * self.score * min(1.0, self.blur / 100.0)


@dataclass(frozen=True)
class QualityGate:
    """Minimum face size, sharpness and confidence worth sending to the cloud."""

    min_face_px: int = 20
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


class FaceFinder:
    """Finds the most confident face in each person box with YuNet.

    Not thread-safe (YuNet keeps its input size): use one per worker thread.
    """

    def __init__(self, model_path: Path, score_threshold: float = 0.6, nms_threshold: float = 0.3, margin: float = 0.1) -> None:
        require_model(model_path)
        self.score_threshold = score_threshold
        self.margin = margin
        self._detector = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 50)

    def detect_faces(self, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """All faces in ``image`` as ((x1, y1, x2, y2), score), best first."""
        height, width = image.shape[:2]
        if width < 10 or height < 10:
            return []
        self._detector.setInputSize((width, height))
        _, faces = self._detector.detect(image)
        found = []
        for row in faces if faces is not None else []:
            x, y, w, h = (float(v) for v in row[:4])
            x1, y1 = max(0, int(round(x))), max(0, int(round(y)))
            x2, y2 = min(width, int(round(x + w))), min(height, int(round(y + h)))
            if x2 - x1 >= 2 and y2 - y1 >= 2:
                found.append(((x1, y1, x2, y2), float(row[14])))
        found.sort(key=lambda f: f[1], reverse=True)
        return found

    def face_in_person(self, frame: np.ndarray, person: Detection) -> Face | None:
        """The best face inside ``person``'s box (slightly enlarged), or None."""
        height, width = frame.shape[:2]
        x1, y1, x2, y2 = person.box
        mx, my = (x2 - x1) * self.margin, (y2 - y1) * self.margin
        rx1, ry1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        rx2, ry2 = min(width, int(x2 + mx)), min(height, int(y2 + my))
        roi = frame[ry1:ry2, rx1:rx2]
        faces = self.detect_faces(roi)
        if not faces:
            return None
        (fx1, fy1, fx2, fy2), score = faces[0]
        box = (fx1 + rx1, fy1 + ry1, fx2 + rx1, fy2 + ry1)
        gray = cv2.cvtColor(frame[box[1] : box[3], box[0] : box[2]], cv2.COLOR_BGR2GRAY)
        return Face(box=box, score=score, blur=sharpness(gray), face_px=min(box[2] - box[0], box[3] - box[1]))


def crop_face(frame: np.ndarray, box: tuple[int, int, int, int], padding: float) -> np.ndarray:
    """The face box plus ``padding`` (fraction of its size) on each side, clipped to the frame."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    px, py = (x2 - x1) * padding, (y2 - y1) * padding
    cx1, cy1 = max(0, int(x1 - px)), max(0, int(y1 - py))
    cx2, cy2 = min(width, int(round(x2 + px))), min(height, int(round(y2 + py)))
    return frame[cy1:cy2, cx1:cx2].copy()
