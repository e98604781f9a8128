"""Support for the API, dashboard and CLI tests: a real AttendanceService on SQLite
with a programmable fake recognizer (no face engine needed).

The fake keeps a real collection (face id -> student) and answers searches from
what the test told it: ``faces_in(image, n)`` says how many faces a photo shows
(enrolment), ``shows(image, student_id, similarity)`` says whose face a crop
shows. A crop of a student whose faces were all removed is ``unknown``, like
Rekognition would answer.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from cloud.errors import EnrolmentError, RecognitionUnavailable
from cloud.records import RecognitionOutcome
from cloud.recognition import IndexedFace
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.images import encode_jpeg
from common.protocol import Message, MessageType, make_image_message


def _key(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


def make_jpeg(seed: int = 0, size: int = 96) -> bytes:
    """A small, valid, distinct JPEG (a gradient with a seed-dependent pattern)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), dtype=np.uint8)
    image[..., 0] = np.linspace(0, 255, size, dtype=np.uint8)[None, :]
    image[..., 1] = rng.integers(0, 255)
    image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4, 2] = rng.integers(0, 255)
    return encode_jpeg(image, 90)


class FakeRecognizer:
    """A Recognizer (cloud.recognition.Recognizer protocol) that does what it is told."""

    def __init__(self, collection_id: str = "test") -> None:
        self.collection_id = collection_id
        self.collection: dict[str, str] = {}  # face id -> student id
        self._faces_in: dict[str, int] = {}
        self._shows: dict[str, tuple[str | None, float]] = {}
        self.available = True
        self.lock = threading.Lock()

    # ---- programming the fake
    def faces_in(self, image: bytes, n: int) -> None:
        """Enrolling ``image`` finds ``n`` faces (default for unknown images: 1)."""
        self._faces_in[_key(image)] = n

    def shows(self, image: bytes, student_id: str | None, similarity: float = 99.0) -> None:
        """Searching ``image`` finds ``student_id``'s face (None: a face of nobody enrolled)."""
        self._shows[_key(image)] = (student_id, similarity)

    # ---- the Recognizer protocol
    def _check(self) -> None:
        if not self.available:
            raise RecognitionUnavailable("fake Rekognition is switched off")

    def ensure_collection(self) -> bool:
        self._check()
        return False

    def describe_collection(self) -> dict[str, Any]:
        self._check()
        return {"FaceCount": len(self.collection)}

    def delete_collection(self) -> None:
        self.collection.clear()

    def index_face(self, student_id: str, image: bytes) -> IndexedFace:
        self._check()
        n = self._faces_in.get(_key(image), 1)
        if n == 0:
            raise EnrolmentError("no usable face found in the photo")
        if n > 1:
            raise EnrolmentError(f"the photo shows {n} faces; an enrolment photo must show exactly one face")
        face_id = str(uuid.uuid4())
        with self.lock:
            self.collection[face_id] = student_id
        return IndexedFace(face_id=face_id, image_id=str(uuid.uuid4()), confidence=99.9, bounding_box=None)

    def delete_faces(self, face_ids: list[str]) -> None:
        self._check()
        with self.lock:
            for face_id in face_ids:
                self.collection.pop(face_id, None)

    def search(self, image: bytes) -> RecognitionOutcome:
        if not self.available:
            return RecognitionOutcome(status="error", reason="unavailable")
        told = self._shows.get(_key(image))
        if told is None:
            return RecognitionOutcome(status="no_face", reason="no_face")
        student_id, similarity = told
        with self.lock:
            face_id = next((f for f, s in self.collection.items() if s == student_id), None)
        if student_id is None or face_id is None:
            return RecognitionOutcome(status="unknown", reason="no_match")
        return RecognitionOutcome(status="recognised", student_id=student_id, similarity=similarity, face_id=face_id)

    def detect_emotion(self, image: bytes) -> str | None:
        return None


def make_service(data_dir: Path, **settings: Any) -> tuple[AttendanceService, FakeRecognizer]:
    """A real AttendanceService on SQLite + local evidence in ``data_dir``."""
    cloud_settings = CloudSettings(data_dir=data_dir, **settings)
    recognizer = FakeRecognizer()
    service = AttendanceService(
        SQLiteStore(data_dir / "rollcall.sqlite3"),
        LocalEvidenceStore(data_dir),
        recognizer,
        cloud_settings,
    )
    return service, recognizer


def face_crop(jpeg: bytes, classroom_id: str, camera_id: str = "cam-1", track_id: int = 1) -> Message:
    """A FACE_CROP message as the edge sends it."""
    from common.clock import now_ms

    from common.images import image_dimensions

    # the size its header says, as the edge does (the cloud refuses a crop whose size differs)
    width, height = image_dimensions(jpeg) or (96, 96)
    message = make_image_message(
        MessageType.FACE_CROP, jpeg, width, height, camera_id=camera_id, classroom_id=classroom_id
    )
    now = now_ms()
    for hop in ("captured", "sent", "edge_received", "detect_start", "detect_end", "edge_sent"):
        message.header.stamp(hop, now)
    message.header.meta = {
        "track_id": track_id,
        "person_box": [0, 0, 96, 96],
        "person_score": 0.9,
        "face_box": [10, 10, 80, 80],
        "face_score": 0.95,
        "quality": {"blur": 120.0, "face_px": 70},
        "frame_size": [480, 270],
        "frame_msg_id": "f" * 32,
    }
    return message


def authed_client(app: Any, role: str = "admin") -> Any:
    """A Flask test client that sends a fresh API token of ``role`` (``Authorization: Bearer``)."""
    from cloud.auth.guard import AUTH_KEY

    name = f"test-{role}-{uuid.uuid4().hex[:8]}"
    plain, _ = app.extensions[AUTH_KEY].accounts.create_token(name, role, "test")
    client = app.test_client()
    client.token_actor = f"token:{name}"  # the audit name of this client's calls
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {plain}"
    return client


TEST_PASSWORD = "correct horse battery"  # pragma: allowlist secret


def csrf_of(html: str) -> str:
    """The CSRF token in a dashboard page (meta tag or hidden form field)."""
    import re

    found = re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login_client(app: Any, username: str = "teacher1", role: str = "teacher") -> Any:
    """A Flask test client logged in through the real login form as a new ``role`` user."""
    from cloud.auth.guard import AUTH_KEY

    app.extensions[AUTH_KEY].accounts.create_user(username, role, TEST_PASSWORD, "test")
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
