"""Mapping dlib embedding distances to Rekognition-style Similarity (0-100).

dlib's ResNet model is trained so that two faces of one person lie closer than
0.6 (Euclidean) and of different people farther. Rekognition's default
FaceMatchThreshold is 80, so the mapping puts 80 at distance 0.6:

    Similarity = 100 / (1 + exp((d - CENTER) / SCALE)),  CENTER = 0.6 + SCALE * ln 4

With SCALE = 0.05: d 0.40 -> 99.5, 0.50 -> 96.7, 0.56 -> 90, 0.60 -> 80,
0.65 -> 59, 0.70 -> 35, 0.80 -> 6.8. On the shared face set, same-person
distances were 0.07-0.56 (similarity >= 90) and different-person distances
0.63-1.03 (similarity <= 67); see docs/rekognition-local.md.
"""

from __future__ import annotations

import math

import numpy as np

DECISION_DISTANCE = 0.6
DECISION_SIMILARITY = 80.0
SCALE = 0.05
CENTER = DECISION_DISTANCE + SCALE * math.log(100.0 / DECISION_SIMILARITY - 1.0) * -1.0


def similarity_from_distance(distance: np.ndarray | float) -> np.ndarray:
    """Similarity 0-100 (float64 array) for Euclidean embedding distance(s)."""
    d = np.asarray(distance, dtype=np.float64)
    z = np.clip((d - CENTER) / SCALE, -60.0, 60.0)
    return 100.0 / (1.0 + np.exp(z))


def distance_for_similarity(similarity: float) -> float:
    """The largest distance whose similarity is still >= ``similarity`` (inverse mapping)."""
    if similarity <= 0.0:
        return math.inf
    if similarity >= 100.0:
        return -math.inf
    return CENTER + SCALE * math.log(100.0 / similarity - 1.0)
