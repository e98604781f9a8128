"""Distance -> Similarity calibration."""

import numpy as np
import pytest

from rekognition_local.calibration import DECISION_DISTANCE, distance_for_similarity, similarity_from_distance


def test_decision_boundary_maps_to_80_and_is_monotonic():
    assert float(similarity_from_distance(DECISION_DISTANCE)) == pytest.approx(80.0)
    d = np.linspace(0, 2, 201)
    s = similarity_from_distance(d)
    assert np.all(np.diff(s) < 0) and s[0] > 99.9 and s[-1] < 0.01 and np.all((s >= 0) & (s <= 100))


def test_inverse_mapping():
    for sim in (1, 50, 80, 90, 99):
        assert float(similarity_from_distance(distance_for_similarity(sim))) == pytest.approx(sim)
    assert distance_for_similarity(0) == float("inf") and distance_for_similarity(100) == float("-inf")
