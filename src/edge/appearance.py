"""Frame- and person-level appearance checks that keep a track on one person.

* :class:`SceneCutDetector`: a large change of the whole frame (a cut in a video, a slide show
  of photos, a camera moved) ends every track of the camera - nobody can be followed across it.
* :func:`colour_signature` / :func:`signature_distance`: a hue-saturation histogram of a person
  box; a track whose person box suddenly looks different (another person stepped into the same
  place) is split. Thresholds are measured in docs/edge.md ("Identity-safe tracking").
"""

from __future__ import annotations

import cv2
import numpy as np

from common.images import grey_thumbnail

#: Size of the grey thumbnail compared between consecutive frames of a camera.
THUMB_SIZE = (64, 36)
#: Mean absolute grey difference (0-255) of two thumbnails above which the frame is a new scene.
SCENE_CUT_DIFF = 16.0
#: Bhattacharyya distance (0 same - 1 disjoint) of two person signatures above which the
#: person is taken to have changed.
APPEARANCE_SPLIT_DISTANCE = 0.27
#: Weight of the newest signature in a track's running signature.
SIGNATURE_UPDATE = 0.3
#: A person box whose longer side exceeds this is downscaled before its histogram is taken
#: (bounded cost and memory; a normalised histogram barely changes).
SIGNATURE_MAX_SIDE = 512


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A small, blurred grey copy of ``frame`` (float32) for scene comparison."""
    return cv2.GaussianBlur(grey_thumbnail(frame, THUMB_SIZE), (3, 3), 0)


class SceneCutDetector:
    """Remembers one camera's last frame thumbnail; says when a frame starts a new scene."""

    def __init__(self, threshold: float = SCENE_CUT_DIFF) -> None:
        self.threshold = threshold
        self._last: np.ndarray | None = None
        self.last_score = 0.0

    def is_cut(self, frame: np.ndarray) -> bool:
        """True when ``frame`` differs from the previous frame of the camera like a new scene
        (the first frame is not a cut)."""
        current = thumbnail(frame)
        previous, self._last = self._last, current
        if previous is None or previous.shape != current.shape:
            self.last_score = 0.0
            return False
        self.last_score = float(np.mean(np.abs(current - previous)))
        return self.last_score > self.threshold


def colour_signature(frame: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """Normalised 16x8 hue-saturation histogram of ``box`` in ``frame`` (None if the box is empty)."""
    height, width = frame.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, int(round(box[2]))), min(height, int(round(box[3])))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    region = frame[y1:y2, x1:x2]
    longest = max(x2 - x1, y2 - y1)
    if longest > SIGNATURE_MAX_SIDE:
        scale = SIGNATURE_MAX_SIDE / longest
        size = (max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).astype(np.float32)
    total = float(hist.sum())
    return hist / total if total > 0 else None


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance between two signatures: 0 identical, 1 nothing in common."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def blend_signatures(old: np.ndarray, new: np.ndarray, weight: float = SIGNATURE_UPDATE) -> np.ndarray:
    """A track's running signature after seeing ``new`` (slow drift with pose and light)."""
    mixed = (1.0 - weight) * old + weight * new
    total = float(mixed.sum())
    return mixed / total if total > 0 else mixed
