"""Collections, faces and embeddings in SQLite, with an in-memory search matrix per collection.

Writes go to SQLite (one connection, serialised by a lock; WAL journal).
Searches use a numpy matrix of the collection's embeddings that is built on
first use and dropped whenever that collection is written, so a search never
reads the database once the matrix is warm. A generation counter per
collection stops a matrix built from pre-write data from being cached after
the write that made it stale.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import distance_for_similarity, similarity_from_distance
from .errors import InvalidPaginationToken, ResourceAlreadyExists, ResourceNotFound

EMBEDDING_DIM = 128

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    collection_id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    face_model_version TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    face_id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections(collection_id) ON DELETE CASCADE,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    box_width REAL NOT NULL,
    box_height REAL NOT NULL,
    box_left REAL NOT NULL,
    box_top REAL NOT NULL,
    confidence REAL NOT NULL,
    model_version TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection_id, face_id);
"""


@dataclass(frozen=True)
class NewFace:
    """A face to add: API metadata plus its embedding."""

    face_id: str
    image_id: str
    external_image_id: str | None
    bounding_box: dict[str, float]  # Width, Height, Left, Top (ratios)
    confidence: float
    model_version: str
    embedding: np.ndarray


@dataclass(frozen=True)
class SearchIndex:
    """A collection's faces as a matrix, rows aligned with ``faces``."""

    faces: list[dict[str, Any]]
    matrix: np.ndarray  # (n, 128) float32
    sq_norms: np.ndarray  # (n,) float32

    def extended(self, faces: list[dict[str, Any]], embeddings: np.ndarray) -> SearchIndex:
        """A new index with ``faces`` (rows of ``embeddings``) appended; this one is left as it is."""
        rows = np.asarray(embeddings, dtype=np.float32)
        return SearchIndex(
            self.faces + faces,
            np.vstack([self.matrix, rows]),
            np.concatenate([self.sq_norms, np.einsum("ij,ij->i", rows, rows)]),
        )

    def search(
        self, query: np.ndarray, max_faces: int, min_similarity: float, exclude_face_id: str | None = None
    ) -> list[tuple[dict[str, Any], float]]:
        """Up to ``max_faces`` (face record, similarity) at or above ``min_similarity``, best first."""
        if not self.faces:
            return []
        q = np.asarray(query, dtype=np.float32)
        sq = self.sq_norms - 2.0 * (self.matrix @ q) + float(q @ q)
        distances = np.sqrt(np.maximum(sq, 0.0))
        candidates = np.flatnonzero(distances <= distance_for_similarity(min_similarity) + 1e-9)
        if exclude_face_id is not None:
            candidates = np.array([i for i in candidates if self.faces[i]["FaceId"] != exclude_face_id], dtype=np.int64)
        if candidates.size == 0:
            return []
        if candidates.size > max_faces:
            part = np.argpartition(distances[candidates], max_faces - 1)[:max_faces]
            candidates = candidates[part]
        order = candidates[np.argsort(distances[candidates], kind="stable")]
        sims = similarity_from_distance(distances[order])
        return [(self.faces[i], float(s)) for i, s in zip(order, sims, strict=True) if s >= min_similarity]


#: Columns of the ``faces`` table, in order (what ``INSERT INTO faces VALUES`` fills).
FACE_COLUMNS = (
    "face_id",
    "collection_id",
    "image_id",
    "external_image_id",
    "box_width",
    "box_height",
    "box_left",
    "box_top",
    "confidence",
    "model_version",
    "embedding",
    "created_at",
)


def _face_record(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "FaceId": row["face_id"],
        "BoundingBox": {
            "Width": row["box_width"],
            "Height": row["box_height"],
            "Left": row["box_left"],
            "Top": row["box_top"],
        },
        "ImageId": row["image_id"],
        "Confidence": row["confidence"],
        "IndexFacesModelVersion": row["model_version"],
    }
    if row["external_image_id"] is not None:
        record["ExternalImageId"] = row["external_image_id"]
    return record


def encode_token(value: str) -> str:
    """Opaque pagination token for ``value``."""
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_token(token: str) -> str:
    """Inverse of :func:`encode_token`; InvalidPaginationToken if malformed."""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPaginationToken("Invalid pagination token") from None


class FaceStore:
    """Persistent collections and faces; thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(data_dir) / "rekognition.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._indexes: dict[str, SearchIndex] = {}
        self._generation: dict[str, int] = {}

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT under the lock; ROLLBACK if the body raises."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- collections ---
    def create_collection(self, collection_id: str, arn: str, model_version: str) -> None:
        """Create a collection; ResourceAlreadyExists if it exists."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO collections VALUES (?, ?, ?, ?)", (collection_id, arn, model_version, time.time())
                )
            except sqlite3.IntegrityError:
                raise ResourceAlreadyExists(f"The collection id: {collection_id} already exists") from None

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and its faces; ResourceNotFound if missing."""
        with self._lock:
            self._require(collection_id)
            with self._transaction():
                self._db.execute("DELETE FROM faces WHERE collection_id = ?", (collection_id,))
                self._db.execute("DELETE FROM collections WHERE collection_id = ?", (collection_id,))
            self._invalidate(collection_id)

    def list_collections(self, token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Collections ordered by id after ``token``; returns (rows, next token)."""
        after = decode_token(token) if token else ""
        with self._lock:
            rows = self._db.execute(
                "SELECT collection_id, face_model_version FROM collections WHERE collection_id > ? "
                "ORDER BY collection_id LIMIT ?",
                (after, limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        next_token = encode_token(rows[-1]["collection_id"]) if more and rows else None
        return [dict(r) for r in rows], next_token

    def describe_collection(self, collection_id: str) -> dict[str, Any]:
        """Collection row plus ``face_count``; ResourceNotFound if missing."""
        with self._lock:
            row = self._require(collection_id)
            count = self._db.execute("SELECT COUNT(*) FROM faces WHERE collection_id = ?", (collection_id,)).fetchone()[
                0
            ]
        return {**dict(row), "face_count": int(count)}

    def _require(self, collection_id: str) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM collections WHERE collection_id = ?", (collection_id,)).fetchone()
        if row is None:
            raise ResourceNotFound(f"The collection id: {collection_id} does not exist")
        return row

    def require_collection(self, collection_id: str) -> None:
        """ResourceNotFound unless the collection exists."""
        with self._lock:
            self._require(collection_id)

    # --- faces ---
    def add_faces(self, collection_id: str, faces: Iterable[NewFace]) -> None:
        """Insert faces in one transaction; ResourceNotFound if the collection is missing."""
        now = time.time()
        rows = [
            (
                f.face_id,
                collection_id,
                f.image_id,
                f.external_image_id,
                f.bounding_box["Width"],
                f.bounding_box["Height"],
                f.bounding_box["Left"],
                f.bounding_box["Top"],
                f.confidence,
                f.model_version,
                np.asarray(f.embedding, dtype=np.float32).tobytes(),
                now,
            )
            for f in faces
        ]
        with self._lock:
            self._require(collection_id)
            with self._transaction():
                self._db.executemany("INSERT INTO faces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            cached = self._indexes.get(collection_id)
            self._invalidate(collection_id)
            if cached is not None and rows:
                # Extend the cached matrix instead of rebuilding it from SQLite (3.8 s at 100k faces).
                self._indexes[collection_id] = cached.extended(
                    [_face_record(dict(zip(FACE_COLUMNS, row, strict=True))) for row in rows],
                    np.frombuffer(b"".join(row[10] for row in rows), dtype=np.float32).reshape(
                        len(rows), EMBEDDING_DIM
                    ),
                )

    def list_faces(
        self, collection_id: str, token: str | None, limit: int, face_ids: list[str] | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Face records ordered by FaceId after ``token``; returns (records, next token)."""
        after = decode_token(token) if token else ""
        query = "SELECT * FROM faces WHERE collection_id = ? AND face_id > ?"
        params: list[Any] = [collection_id, after]
        if face_ids:
            query += f" AND face_id IN ({','.join('?' * len(face_ids))})"
            params += face_ids
        query += " ORDER BY face_id LIMIT ?"
        params.append(limit + 1)
        with self._lock:
            self._require(collection_id)
            rows = self._db.execute(query, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        next_token = encode_token(rows[-1]["face_id"]) if more and rows else None
        return [_face_record(r) for r in rows], next_token

    def delete_faces(self, collection_id: str, face_ids: list[str]) -> tuple[list[str], list[str]]:
        """Delete faces; returns (deleted ids, ids not found)."""
        with self._lock:
            self._require(collection_id)
            deleted = []
            with self._transaction():
                for face_id in dict.fromkeys(face_ids):
                    cur = self._db.execute(
                        "DELETE FROM faces WHERE collection_id = ? AND face_id = ?", (collection_id, face_id)
                    )
                    if cur.rowcount:
                        deleted.append(face_id)
            if deleted:
                self._invalidate(collection_id)
        missing = [f for f in dict.fromkeys(face_ids) if f not in set(deleted)]
        return deleted, missing

    def face_embedding(self, collection_id: str, face_id: str) -> np.ndarray | None:
        """Embedding of one face (None if the face is not in the collection)."""
        with self._lock:
            self._require(collection_id)
            row = self._db.execute(
                "SELECT embedding FROM faces WHERE collection_id = ? AND face_id = ?", (collection_id, face_id)
            ).fetchone()
        return None if row is None else np.frombuffer(row["embedding"], dtype=np.float32)

    # --- search ---
    def index(self, collection_id: str) -> SearchIndex:
        """The collection's search matrix (built from SQLite on first use after a write)."""
        with self._lock:
            cached = self._indexes.get(collection_id)
            if cached is not None:
                return cached
            generation = self._generation.get(collection_id, 0)
            self._require(collection_id)
            rows = self._db.execute(
                "SELECT * FROM faces WHERE collection_id = ? ORDER BY face_id", (collection_id,)
            ).fetchall()
        matrix = np.frombuffer(b"".join(row["embedding"] for row in rows), dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        built = SearchIndex([_face_record(r) for r in rows], matrix, np.einsum("ij,ij->i", matrix, matrix))
        with self._lock:
            if self._generation.get(collection_id, 0) == generation:
                self._indexes[collection_id] = built
        return built

    def _invalidate(self, collection_id: str) -> None:
        self._generation[collection_id] = self._generation.get(collection_id, 0) + 1
        self._indexes.pop(collection_id, None)
