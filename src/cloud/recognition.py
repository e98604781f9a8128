"""Face recognition through AWS Rekognition (boto3), or any Rekognition-compatible
endpoint such as the local service (``endpoint_url``): the adapter behind the
:class:`cloud.ports.Recognizer` port.

* Collection: create if missing (idempotent), describe, delete.
* Enrolment policy: ``IndexFaces`` with ``ExternalImageId = student id``; exactly one face per
  photo (none -> rejected; several -> the indexed ones are deleted again and rejected).
* Search: ``SearchFacesByImage``; no face in the image (``InvalidParameterException``) -> ``no_face``.
  Throttling is retried with bounded exponential backoff (:mod:`cloud.aws_calls`); every other
  failure fails closed (``error``) - an error is never "recognised".

Credentials come only from the standard boto3 chain (environment, shared config,
instance role). Missing credentials make calls fail with a clear reason
(``no_credentials``) instead of crashing. The client factory and the trace header live in
:mod:`cloud.aws_client`; the port and ``IndexedFace`` in :mod:`cloud.ports` (re-exported here).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from common.logs import log_event
from common.metrics import Metrics

from .aws_calls import RekognitionFailure, call_with_retry
from .aws_client import credentials_available, make_rekognition_client
from .errors import EnrolmentError, RecognitionUnavailable
from .ports import IndexedFace, Recognizer
from .records import RecognitionOutcome
from .tracing import TRACE_HEADER, traced

__all__ = [
    "IndexedFace",
    "Recognizer",
    "RekognitionRecognizer",
    "TRACE_HEADER",
    "credentials_available",
    "make_rekognition_client",
    "outcome_from_matches",
    "traced",
]

log = logging.getLogger("rollcall.cloud.recognition")

#: Matches asked for per search: enough to see past several photos of the best student.
SEARCH_MAX_FACES = 20
#: Lowest similarity asked for, so that the runner-up student is known (no extra cost).
SEARCH_FLOOR = 50.0


def outcome_from_matches(
    matches: list[dict[str, Any]], match_threshold: float, attempts: int = 1
) -> RecognitionOutcome:
    """The outcome of a SearchFacesByImage answer: the best student if at or above
    ``match_threshold``, with the best other student's similarity as ``runner_up_similarity``."""
    best_by_student: dict[str, tuple[float, dict[str, Any]]] = {}
    for match in matches:
        face = match.get("Face") or {}
        student_id = face.get("ExternalImageId")
        similarity = float(match.get("Similarity") or 0.0)
        if student_id and similarity > best_by_student.get(student_id, (-1.0, {}))[0]:
            best_by_student[student_id] = (similarity, face)
    if not best_by_student:
        return RecognitionOutcome(status="unknown", reason="no_match", attempts=attempts)
    ranked = sorted(best_by_student.items(), key=lambda item: item[1][0], reverse=True)
    student_id, (similarity, face) = ranked[0]
    runner_up = ranked[1][1][0] if len(ranked) > 1 else None
    if similarity < match_threshold:
        return RecognitionOutcome(
            status="unknown",
            reason="no_match",
            similarity=similarity,
            runner_up_similarity=runner_up,
            attempts=attempts,
        )
    return RecognitionOutcome(
        status="recognised",
        student_id=student_id,
        similarity=similarity,
        runner_up_similarity=runner_up,
        face_id=face.get("FaceId"),
        attempts=attempts,
    )


class RekognitionRecognizer:
    """Rekognition calls with classification, bounded backoff and counters."""

    def __init__(
        self,
        client: Any,
        collection_id: str = "rollcall",
        match_threshold: float = 80.0,
        max_retries: int = 4,
        backoff_s: float = 0.2,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        quota: Callable[[str], bool] | None = None,
    ) -> None:
        self.client = client
        self.quota = quota  # asked before every call (cloud.quota.OperationQuota.acquire)
        self.collection_id = collection_id
        self.match_threshold = float(match_threshold)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.metrics = metrics or Metrics()
        self.sleep = sleep

    # ---------------------------------------------------------------- plumbing
    def _call(self, operation: str, **params: Any) -> tuple[dict[str, Any], int]:
        """Call ``operation``; retry throttling; raise RekognitionFailure otherwise."""
        return call_with_retry(
            self.client, operation, params, self.metrics, self.max_retries, self.backoff_s, self.sleep, self.quota
        )

    def _unavailable(self, failure: RekognitionFailure, what: str) -> RecognitionUnavailable:
        self.metrics.inc(f"rekognition_errors_{failure.reason}")
        log_event(
            log,
            "rekognition_error",
            level=logging.ERROR,
            operation=what,
            reason=failure.reason,
            code=failure.code,
            detail=failure.detail[:300],
        )
        return RecognitionUnavailable(f"Rekognition {what} failed ({failure.reason}: {failure.detail[:200]})")

    # -------------------------------------------------------------- collection
    def ensure_collection(self) -> bool:
        """Create the collection if it does not exist. True if it was created."""
        try:
            self._call("describe_collection", CollectionId=self.collection_id)
            return False
        except RekognitionFailure as failure:
            if failure.reason != "collection_missing":
                raise self._unavailable(failure, "DescribeCollection") from None
        try:
            self._call("create_collection", CollectionId=self.collection_id)
        except RekognitionFailure as failure:
            if failure.code == "ResourceAlreadyExistsException":
                return False  # created concurrently
            raise self._unavailable(failure, "CreateCollection") from None
        log_event(log, "collection_created", collection_id=self.collection_id)
        return True

    def describe_collection(self) -> dict[str, Any]:
        """FaceCount, FaceModelVersion, ... of the collection."""
        try:
            response, _ = self._call("describe_collection", CollectionId=self.collection_id)
        except RekognitionFailure as failure:
            raise self._unavailable(failure, "DescribeCollection") from None
        response.pop("ResponseMetadata", None)
        return response

    def delete_collection(self) -> None:
        """Delete the collection and every face in it (missing is fine)."""
        try:
            self._call("delete_collection", CollectionId=self.collection_id)
        except RekognitionFailure as failure:
            if failure.reason != "collection_missing":
                raise self._unavailable(failure, "DeleteCollection") from None

    # --------------------------------------------------------------- enrolment
    def index_face(self, student_id: str, image: bytes) -> IndexedFace:
        """Index the single face of ``image`` as ``student_id``.

        Raises EnrolmentError for no face / several faces / a bad image and
        RecognitionUnavailable when Rekognition cannot be used.
        """
        params = dict(CollectionId=self.collection_id, Image={"Bytes": image}, ExternalImageId=student_id, MaxFaces=2)
        try:
            response, _ = self._call("index_faces", **params)
        except RekognitionFailure as failure:
            if failure.reason == "collection_missing":
                self.ensure_collection()
                try:
                    response, _ = self._call("index_faces", **params)
                except RekognitionFailure as again:
                    raise self._enrol_failure(again) from None
            else:
                raise self._enrol_failure(failure) from None
        records = response.get("FaceRecords", [])
        unindexed = response.get("UnindexedFaces", [])
        too_many = any("EXCEEDS_MAX_FACES" in u.get("Reasons", []) for u in unindexed)
        if len(records) > 1 or (records and too_many):
            self.delete_faces([r["Face"]["FaceId"] for r in records])
            self.metrics.inc("enrolment_rejected_several_faces")
            n = len(records) + sum(1 for u in unindexed if "EXCEEDS_MAX_FACES" in u.get("Reasons", []))
            raise EnrolmentError(f"the photo shows {n} faces; an enrolment photo must show exactly one face")
        if not records:
            self.metrics.inc("enrolment_rejected_no_face")
            reasons = sorted({r for u in unindexed for r in u.get("Reasons", [])})
            why = f" (faces found but not usable: {', '.join(reasons)})" if reasons else ""
            raise EnrolmentError(f"no usable face found in the photo{why}")
        face = records[0]["Face"]
        return IndexedFace(
            face_id=face["FaceId"],
            image_id=face.get("ImageId"),
            confidence=face.get("Confidence"),
            bounding_box=face.get("BoundingBox"),
        )

    def _enrol_failure(self, failure: RekognitionFailure) -> Exception:
        if failure.reason in ("bad_image", "invalid_parameter"):
            self.metrics.inc("enrolment_rejected_bad_image")
            return EnrolmentError(f"Rekognition rejected the photo ({failure.code}: {failure.detail[:200]})")
        return self._unavailable(failure, "IndexFaces")

    def delete_faces(self, face_ids: list[str]) -> None:
        """Remove faces from the collection (ids that are already gone are fine)."""
        for start in range(0, len(face_ids), 4096):
            chunk = face_ids[start : start + 4096]
            if not chunk:
                continue
            try:
                self._call("delete_faces", CollectionId=self.collection_id, FaceIds=chunk)
            except RekognitionFailure as failure:
                if failure.reason == "collection_missing":
                    return
                raise self._unavailable(failure, "DeleteFaces") from None

    # ------------------------------------------------------------------ search
    def search(self, image: bytes) -> RecognitionOutcome:
        """Who is the (largest) face in ``image``? Never raises.

        One call asks for up to ``SEARCH_MAX_FACES`` matches down to ``SEARCH_FLOOR`` similarity,
        so the outcome also carries the best *other* student's similarity: the margin
        :mod:`cloud.decision` needs. Only a best match at or above ``match_threshold`` is
        ``recognised``."""
        try:
            response, attempts = self._call(
                "search_faces_by_image",
                CollectionId=self.collection_id,
                Image={"Bytes": image},
                MaxFaces=SEARCH_MAX_FACES,
                FaceMatchThreshold=min(self.match_threshold, SEARCH_FLOOR),
            )
        except RekognitionFailure as failure:
            if failure.reason == "invalid_parameter":
                # Rekognition's way of saying "there is no face in this image".
                return RecognitionOutcome(
                    status="no_face", reason="no_face", detail=failure.detail[:200], attempts=failure.attempts
                )
            self.metrics.inc(f"rekognition_errors_{failure.reason}")
            log_event(
                log,
                "rekognition_error",
                level=logging.ERROR,
                operation="SearchFacesByImage",
                reason=failure.reason,
                code=failure.code,
                detail=failure.detail[:300],
            )
            return RecognitionOutcome(
                status="error",
                reason=failure.reason,
                detail=f"{failure.code}: {failure.detail[:200]}",
                attempts=failure.attempts,
            )
        return outcome_from_matches(response.get("FaceMatches") or [], self.match_threshold, attempts)

    def detect_emotion(self, image: bytes) -> str | None:
        """Dominant emotion (e.g. ``HAPPY``) of the largest face, or None."""
        try:
            response, _ = self._call("detect_faces", Image={"Bytes": image}, Attributes=["EMOTIONS"])
        except RekognitionFailure as failure:
            self.metrics.inc(f"emotion_errors_{failure.reason}")
            return None
        faces = response.get("FaceDetails") or []
        if not faces:
            return None

        def area(face: dict[str, Any]) -> float:
            box = face.get("BoundingBox", {})
            return float(box.get("Width", 0) * box.get("Height", 0))

        largest = max(faces, key=area)
        emotions = largest.get("Emotions") or []
        if not emotions:
            return None
        return str(max(emotions, key=lambda e: e.get("Confidence", 0.0)).get("Type"))
