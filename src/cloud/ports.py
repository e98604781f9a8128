"""The domain's port to a face recognizer, free of any AWS dependency.

The attendance service and its collaborators depend on :class:`Recognizer` only; the
boto3 adapter (:class:`cloud.recognition.RekognitionRecognizer`) is wired in by
:mod:`cloud.bootstrap`, and tests pass in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .records import RecognitionOutcome


@dataclass(frozen=True)
class IndexedFace:
    """A face that IndexFaces added to the collection."""

    face_id: str
    image_id: str | None
    confidence: float | None
    bounding_box: dict[str, float] | None


class Recognizer(Protocol):
    """What the attendance service needs from a face recognizer.

    ``index_face`` raises ``EnrolmentError`` (no face, several faces, bad image) or
    ``RecognitionUnavailable``; ``delete_faces``, ``ensure_collection``,
    ``describe_collection`` raise ``RecognitionUnavailable``; ``search`` never raises
    (failures are an ``error`` outcome) and ``detect_emotion`` returns None on failure.
    """

    collection_id: str

    def ensure_collection(self) -> bool:
        """Create the collection if missing; True if it was created."""
        ...

    def describe_collection(self) -> dict[str, Any]:
        """FaceCount, FaceModelVersion, ... of the collection."""
        ...

    def delete_collection(self) -> None:
        """Delete the collection and its faces."""
        ...

    def index_face(self, student_id: str, image: bytes) -> IndexedFace:
        """Index the single face of ``image`` as ``student_id``."""
        ...

    def delete_faces(self, face_ids: list[str]) -> None:
        """Remove faces from the collection (already gone is fine)."""
        ...

    def search(self, image: bytes) -> RecognitionOutcome:
        """Who is the (largest) face in ``image``? Never raises."""
        ...

    def detect_emotion(self, image: bytes) -> str | None:
        """Dominant emotion of the largest face, or None."""
        ...
