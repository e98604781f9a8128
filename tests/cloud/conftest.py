"""Cloud-tier fixtures: storage backends (SQLite, DynamoDB via moto), evidence
stores (local, S3 via moto) and an honest in-memory recognizer for service tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cv2
import numpy as np
import pytest

from cloud.errors import EnrolmentError
from cloud.records import RecognitionOutcome
from cloud.recognition import IndexedFace
from cloud.storage.evidence import LocalEvidenceStore, S3EvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.images import decode_image

REGION = "us-east-1"


@pytest.fixture(scope="package", autouse=True)
def plaintext_ingest() -> Iterator[None]:
    """The cloud tests run the ingest over plain TCP (an explicit opt-in); CurveZMQ and the key
    bindings are tested in test_key_bindings.py."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROLLCALL_CLOUD_TRANSPORT", "plaintext")
        yield


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can ever reach real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Every AttendanceStore backend, for the contract tests."""
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "db.sqlite3")
        yield s
        s.close()
        return
    request.getfixturevalue("moto_aws")
    from cloud.storage.dynamodb import DynamoDBStore

    resource = boto3.resource("dynamodb", region_name=REGION)
    yield DynamoDBStore(resource, prefix=f"t{uuid.uuid4().hex[:6]}-")


@pytest.fixture(params=["local", "s3"])
def evidence(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Every EvidenceStore backend."""
    if request.param == "local":
        return LocalEvidenceStore(tmp_path / "evidence-root")
    request.getfixturevalue("moto_aws")
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket="rollcall-test")
    return S3EvidenceStore(client, "rollcall-test", "rc/")


# --------------------------------------------------------------------------- synthetic faces
def synthetic_face(seed: int, noise: float = 0.0, size: int = 96) -> bytes:
    """A deterministic textured 'face' image for person ``seed`` (JPEG).
    ``noise`` adds per-call variation so probes differ from enrolment photos."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
    image = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    if noise:
        image += np.random.default_rng().normal(0, noise, image.shape)
    ok, buf = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8))
    assert ok
    return buf.tobytes()


def blank_image(size: int = 96) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((size, size, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def _signature(image: bytes) -> np.ndarray:
    gray = cv2.cvtColor(decode_image(image), cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    return small - small.mean()


class ImageMatchRecognizer:
    """An honest stand-in for Rekognition in service tests: it really compares
    images (normalised correlation of 24x24 grey thumbnails, as 0-100
    similarity). A flat image has 'no face'. Counts calls."""

    def __init__(self, threshold: float = 80.0) -> None:
        self.collection_id = "fake"
        self.threshold = threshold
        self.faces: dict[str, tuple[str, np.ndarray]] = {}
        self.calls: dict[str, int] = {"search": 0, "index": 0, "delete": 0}
        self.fail_next: str | None = None
        self._lock = threading.Lock()

    def ensure_collection(self) -> bool:
        return False

    def describe_collection(self) -> dict[str, Any]:
        return {"FaceCount": len(self.faces)}

    def delete_collection(self) -> None:
        self.faces.clear()

    def index_face(self, student_id: str, image: bytes) -> IndexedFace:
        self.calls["index"] += 1
        signature = _signature(image)
        if float(np.linalg.norm(signature)) < 1e-3 * signature.size:
            raise EnrolmentError("no usable face found in the photo")
        face_id = uuid.uuid4().hex
        with self._lock:
            self.faces[face_id] = (student_id, signature)
        return IndexedFace(face_id=face_id, image_id=None, confidence=99.0, bounding_box=None)

    def delete_faces(self, face_ids: list[str]) -> None:
        self.calls["delete"] += 1
        with self._lock:
            for face_id in face_ids:
                self.faces.pop(face_id, None)

    def search(self, image: bytes) -> RecognitionOutcome:
        with self._lock:
            self.calls["search"] += 1
            if self.fail_next:
                reason, self.fail_next = self.fail_next, None
                return RecognitionOutcome(status="error", reason=reason)
            faces = list(self.faces.items())
        probe = _signature(image)
        norm = float(np.linalg.norm(probe))
        if norm < 1e-3 * probe.size:
            return RecognitionOutcome(status="no_face", reason="no_face")
        best: tuple[float, str, str] | None = None
        for face_id, (student_id, signature) in faces:
            similarity = 100.0 * float(probe @ signature) / (norm * float(np.linalg.norm(signature)))
            if best is None or similarity > best[0]:
                best = (similarity, student_id, face_id)
        if best is None or best[0] < self.threshold:
            return RecognitionOutcome(status="unknown", reason="no_match", similarity=best[0] if best else None)
        return RecognitionOutcome(status="recognised", student_id=best[1], similarity=best[0], face_id=best[2])

    def detect_emotion(self, image: bytes) -> str | None:
        return "CALM"
