"""FaceStore: persistence, vectorised search, cache invalidation on writes."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from rekognition_local.calibration import similarity_from_distance
from rekognition_local.errors import InvalidPaginationToken, ResourceAlreadyExists, ResourceNotFound
from rekognition_local.store import FaceStore, NewFace


def _face(vector: np.ndarray, external: str | None = None) -> NewFace:
    return NewFace(str(uuid.uuid4()), "img", external, {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.2}, 99.0, "v1", vector)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_ranks_by_distance_and_applies_threshold(tmp_path):
    store = FaceStore(tmp_path)
    store.create_collection("c", "arn", "v1")
    rng = np.random.default_rng(0)
    base = _unit(rng, 1)[0]
    near = [base + 0.02 * k * _unit(rng, 1)[0] for k in range(1, 6)]  # growing distance from base
    faces = [_face(v, f"near{k}") for k, v in enumerate(near)] + [_face(v) for v in _unit(rng, 500)]
    store.add_faces("c", faces)
    hits = store.index("c").search(base, max_faces=3, min_similarity=0)
    assert [h[0]["ExternalImageId"] for h in hits] == ["near0", "near1", "near2"]
    expected = similarity_from_distance(np.linalg.norm(near[0] - base))
    assert hits[0][1] == pytest.approx(float(expected), rel=1e-4)
    assert all(s >= 99 for _, s in store.index("c").search(base, 4096, 99))
    assert store.index("c").search(base, 4096, 80, exclude_face_id=faces[0].face_id)[0][0]["ExternalImageId"] == "near1"


def test_writes_invalidate_the_cached_matrix_and_data_persists(tmp_path):
    store = FaceStore(tmp_path)
    store.create_collection("c", "arn", "v1")
    vector = _unit(np.random.default_rng(1), 1)[0]
    first = _face(vector, "a")
    store.add_faces("c", [first])
    index = store.index("c")
    assert store.index("c") is index  # cached while nothing changes
    assert len(index.search(vector, 10, 80)) == 1
    store.delete_faces("c", [first.face_id])
    assert store.index("c").search(vector, 10, 80) == []
    store.add_faces("c", [_face(vector, "b")])
    store.close()
    reopened = FaceStore(tmp_path)
    assert reopened.describe_collection("c")["face_count"] == 1
    assert reopened.index("c").search(vector, 10, 80)[0][0]["ExternalImageId"] == "b"


def test_collection_errors_and_tokens(tmp_path):
    store = FaceStore(tmp_path)
    store.create_collection("c", "arn", "v1")
    with pytest.raises(ResourceAlreadyExists):
        store.create_collection("c", "arn", "v1")
    with pytest.raises(ResourceNotFound):
        store.index("missing")
    with pytest.raises(ResourceNotFound):
        store.add_faces("missing", [_face(np.zeros(128, np.float32))])
    with pytest.raises(InvalidPaginationToken):
        store.list_faces("c", "!!!not-base64!!!", 10)
    store.delete_collection("c")
    with pytest.raises(ResourceNotFound):
        store.describe_collection("c")


def test_failed_write_rolls_back_and_store_stays_usable(tmp_path):
    import sqlite3

    store = FaceStore(tmp_path)
    store.create_collection("c", "arn", "v1")
    face = _face(np.ones(128, np.float32))
    with pytest.raises(sqlite3.IntegrityError):
        store.add_faces("c", [face, face])  # duplicate FaceId inside one batch
    assert store.describe_collection("c")["face_count"] == 0
    store.add_faces("c", [face])
    assert store.describe_collection("c")["face_count"] == 1


def test_adding_faces_extends_the_cached_index_with_exactly_the_cold_rebuilds_results(tmp_path):
    """IndexFaces into a large collection no longer rebuilds the matrix from SQLite (seconds at 100k
    faces): the cached index is extended. Its answers must equal a cold rebuild's, face for face."""
    store = FaceStore(tmp_path)
    store.create_collection("c", "arn", "v1")
    rng = np.random.default_rng(3)
    store.add_faces("c", [_face(v) for v in _unit(rng, 2000)])
    warm = store.index("c")
    added = [_face(v, f"new{i}") for i, v in enumerate(_unit(rng, 50))]
    store.add_faces("c", added)
    extended = store.index("c")
    assert extended is not warm and len(extended.faces) == 2050 and len(warm.faces) == 2000
    cold = FaceStore(tmp_path).index("c")  # a fresh store: built from SQLite
    for query in [*(f.embedding for f in added[:10]), *_unit(rng, 20)]:
        got = [(h["FaceId"], round(s, 4)) for h, s in extended.search(query, 10, 0)]
        want = [(h["FaceId"], round(s, 4)) for h, s in cold.search(query, 10, 0)]
        assert got == want
    hit = extended.search(added[7].embedding, 1, 99)[0][0]
    assert hit == next(h for h, _ in cold.search(added[7].embedding, 1, 99))
    assert hit["ExternalImageId"] == "new7"
    store.delete_faces("c", [added[7].face_id])  # a delete still drops the cache
    assert all(h["FaceId"] != added[7].face_id for h, _ in store.index("c").search(added[7].embedding, 5, 0))
