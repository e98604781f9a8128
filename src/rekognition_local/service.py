"""The Rekognition operations: validate parameters, run the engine, answer in AWS's shapes.

Each public ``op_<Name>`` takes the decoded JSON request and returns the JSON
response (field names and types as in botocore's ``rekognition`` service model).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from .attributes import face_pose, face_quality
from .engine import DetectedFace, FaceEngine
from .errors import InvalidParameter
from .imaging import decode_request_image
from .settings import RekognitionSettings
from .store import FaceStore, NewFace

FACE_MODEL_VERSION = "local-yunet-dlib-resnet-v1"
#: This service has no emotion model: DetectFaces/IndexFaces never return ``Emotions``, whatever
#: attributes are asked. Said at start (log event ``emotions_unsupported``) and in ``GET /health``.
EMOTIONS_SUPPORTED = False
EMOTIONS_NOTICE = (
    "the local Rekognition service returns no emotions (no emotion model): FaceDetails never carry Emotions; "
    "per-session emotion figures (ROLLCALL_CLOUD_DETECT_EMOTIONS) need AWS Rekognition"
)
ACCOUNT_ID = "000000000000"
NO_FACE_MESSAGE = "There are no faces in the image. Should be at least 1."

_COLLECTION_RE = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")
_EXTERNAL_ID_RE = re.compile(r"^[a-zA-Z0-9_.\-:]{1,255}$")
_FACE_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ATTRIBUTES = {
    "DEFAULT",
    "ALL",
    "AGE_RANGE",
    "BEARD",
    "EMOTIONS",
    "EYE_DIRECTION",
    "EYEGLASSES",
    "EYES_OPEN",
    "GENDER",
    "MOUTH_OPEN",
    "MUSTACHE",
    "FACE_OCCLUDED",
    "SMILE",
    "SUNGLASSES",
}
_QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")
_LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


# Quality bars: min detector score, min face side (px), min sharpness, min brightness, max |yaw| / |pitch|.
QUALITY_BARS: dict[str, dict[str, float]] = {
    "LOW": {"score": 0.6, "side": 20, "sharpness": 5, "brightness": 8, "yaw": 80, "pitch": 70},
    "MEDIUM": {"score": 0.7, "side": 40, "sharpness": 15, "brightness": 15, "yaw": 60, "pitch": 50},
    "HIGH": {"score": 0.8, "side": 80, "sharpness": 30, "brightness": 20, "yaw": 45, "pitch": 35},
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["LOW"]


# --- parameter helpers ------------------------------------------------------


def _require(params: dict[str, Any], name: str) -> Any:
    if params.get(name) is None:
        raise InvalidParameter(f"Missing required parameter: {name}")
    return params[name]


def _collection_id(params: dict[str, Any]) -> str:
    value = _require(params, "CollectionId")
    if not isinstance(value, str) or not _COLLECTION_RE.match(value):
        raise InvalidParameter("CollectionId must be 1-255 characters of [a-zA-Z0-9_.-]")
    return value


def _int(params: dict[str, Any], name: str, low: int, high: int | None, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise InvalidParameter(f"{name} must be an integer in [{low}, {high if high is not None else 'inf'}]")
    return value


def _float(params: dict[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidParameter(f"{name} must be a number in [{low}, {high}]")
    return float(value)


def _enum(params: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise InvalidParameter(f"{name} must be one of {', '.join(allowed)}")
    return value


def _face_id(value: Any, name: str = "FaceId") -> str:
    if not isinstance(value, str) or not _FACE_ID_RE.match(value):
        raise InvalidParameter(f"{name} must be a face id (lower-case UUID)")
    return value


def _token(params: dict[str, Any]) -> str | None:
    token = params.get("NextToken")
    if token is not None and (not isinstance(token, str) or len(token) > 255):
        raise InvalidParameter("NextToken must be a string of at most 255 characters")
    return token or None


# --- response helpers -------------------------------------------------------


def bounding_box(face: DetectedFace) -> dict[str, float]:
    """AWS BoundingBox: ratios of the image width/height."""
    width, height = face.image_size
    x, y, w, h = face.box
    return {"Width": w / width, "Height": h / height, "Left": x / width, "Top": y / height}


def face_detail(image: np.ndarray, face: DetectedFace) -> dict[str, Any]:
    """AWS FaceDetail with the DEFAULT attributes: BoundingBox, Landmarks, Pose, Quality, Confidence."""
    width, height = face.image_size
    roll, yaw, pitch = face_pose(face)
    brightness, sharpness = face_quality(image, face)
    return {
        "BoundingBox": bounding_box(face),
        "Landmarks": [
            {"Type": kind, "X": float(point[0]) / width, "Y": float(point[1]) / height}
            for kind, point in zip(_LANDMARK_TYPES, face.landmarks, strict=True)
        ],
        "Pose": {"Roll": roll, "Yaw": yaw, "Pitch": pitch},
        "Quality": {"Brightness": brightness, "Sharpness": sharpness},
        "Confidence": face.score * 100.0,
    }


def quality_reasons(detail: dict[str, Any], face: DetectedFace, bar_name: str) -> list[str]:
    """AWS UnindexedFace reasons why ``face`` misses the ``bar_name`` quality bar ([] = passes)."""
    if bar_name == "NONE":
        return []
    bar = QUALITY_BARS[bar_name]
    reasons = []
    if face.score < bar["score"]:
        reasons.append("LOW_CONFIDENCE")
    if min(face.box[2], face.box[3]) < bar["side"]:
        reasons.append("SMALL_BOUNDING_BOX")
    if detail["Quality"]["Sharpness"] < bar["sharpness"]:
        reasons.append("LOW_SHARPNESS")
    if detail["Quality"]["Brightness"] < bar["brightness"]:
        reasons.append("LOW_BRIGHTNESS")
    if abs(detail["Pose"]["Yaw"]) > bar["yaw"] or abs(detail["Pose"]["Pitch"]) > bar["pitch"]:
        reasons.append("EXTREME_POSE")
    return reasons


class RekognitionService:
    """Implements the supported operations on top of a FaceEngine and a FaceStore."""

    def __init__(self, settings: RekognitionSettings, engine: FaceEngine, store: FaceStore) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``operation``; KeyError if it is not supported."""
        return self.operations[operation](params)

    def _image(self, params: dict[str, Any]) -> np.ndarray:
        image = _require(params, "Image")
        if not isinstance(image, dict):
            raise InvalidParameter("Image must be an object with Bytes")
        if image.get("S3Object") is not None and image.get("Bytes") is None:
            raise InvalidParameter("Image.S3Object is not supported by the local Rekognition service; send Image.Bytes")
        encoded = image.get("Bytes")
        if not isinstance(encoded, str) or not encoded:
            raise InvalidParameter("Missing required parameter: Image.Bytes")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameter("Image.Bytes is not valid base64") from None
        return decode_request_image(data, self.settings.max_image_bytes, self.settings.max_image_pixels)

    def _arn(self, collection_id: str) -> str:
        return f"aws:rekognition:{self.settings.region}:{ACCOUNT_ID}:collection/{collection_id}"

    # --- collections ---
    def op_CreateCollection(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        arn = self._arn(collection_id)
        self.store.create_collection(collection_id, arn, FACE_MODEL_VERSION)
        return {"StatusCode": 200, "CollectionArn": arn, "FaceModelVersion": FACE_MODEL_VERSION}

    def op_DeleteCollection(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_collection(_collection_id(params))
        return {"StatusCode": 200}

    def op_ListCollections(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = _int(params, "MaxResults", 0, 4096, 1000) or 1000
        rows, next_token = self.store.list_collections(_token(params), limit)
        response: dict[str, Any] = {
            "CollectionIds": [r["collection_id"] for r in rows],
            "FaceModelVersions": [r["face_model_version"] for r in rows],
        }
        if next_token:
            response["NextToken"] = next_token
        return response

    def op_DescribeCollection(self, params: dict[str, Any]) -> dict[str, Any]:
        info = self.store.describe_collection(_collection_id(params))
        return {
            "FaceCount": info["face_count"],
            "FaceModelVersion": info["face_model_version"],
            "CollectionARN": info["arn"],
            "CreationTimestamp": info["created_at"],
            "UserCount": 0,
        }

    # --- faces ---
    def op_IndexFaces(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        external_id = params.get("ExternalImageId")
        if external_id is not None and (not isinstance(external_id, str) or not _EXTERNAL_ID_RE.match(external_id)):
            raise InvalidParameter("ExternalImageId must be 1-255 characters of [a-zA-Z0-9_.-:]")
        max_faces = _int(params, "MaxFaces", 1, None, 100)
        bar = _enum(params, "QualityFilter", _QUALITY_FILTERS, "AUTO")
        attributes = params.get("DetectionAttributes") or ["DEFAULT"]
        if not isinstance(attributes, list) or any(a not in _ATTRIBUTES for a in attributes):
            raise InvalidParameter("DetectionAttributes must be a list of " + ", ".join(sorted(_ATTRIBUTES)))
        self.store.require_collection(collection_id)
        image = self._image(params)
        image_id = str(uuid.uuid4())
        records: list[dict[str, Any]] = []
        unindexed: list[dict[str, Any]] = []
        new_faces: list[NewFace] = []
        with self.engine.lease() as models:
            faces = models.detect(image)
            for face in faces:
                detail = face_detail(image, face)
                reasons = quality_reasons(detail, face, bar)
                if not reasons and len(records) >= max_faces:
                    reasons = ["EXCEEDS_MAX_FACES"]
                if reasons:
                    unindexed.append({"Reasons": reasons, "FaceDetail": detail})
                    continue
                face_record = {
                    "FaceId": str(uuid.uuid4()),
                    "BoundingBox": detail["BoundingBox"],
                    "ImageId": image_id,
                    "Confidence": detail["Confidence"],
                }
                if external_id is not None:
                    face_record["ExternalImageId"] = external_id
                new_faces.append(
                    NewFace(
                        face_id=face_record["FaceId"],
                        image_id=image_id,
                        external_image_id=external_id,
                        bounding_box=detail["BoundingBox"],
                        confidence=detail["Confidence"],
                        model_version=FACE_MODEL_VERSION,
                        embedding=models.embed(image, face),
                    )
                )
                records.append({"Face": face_record, "FaceDetail": detail})
        if new_faces:
            self.store.add_faces(collection_id, new_faces)
        return {"FaceRecords": records, "FaceModelVersion": FACE_MODEL_VERSION, "UnindexedFaces": unindexed}

    def op_ListFaces(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        limit = _int(params, "MaxResults", 0, 4096, 1000) or 1000
        face_ids = params.get("FaceIds")
        if face_ids is not None:
            if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= 4096:
                raise InvalidParameter("FaceIds must be a list of 1-4096 face ids")
            face_ids = [_face_id(f, "FaceIds") for f in face_ids]
        if params.get("UserId") is not None:  # users are not supported: no face belongs to one
            self.store.require_collection(collection_id)
            return {"Faces": [], "FaceModelVersion": FACE_MODEL_VERSION}
        faces, next_token = self.store.list_faces(collection_id, _token(params), limit, face_ids)
        response: dict[str, Any] = {"Faces": faces, "FaceModelVersion": FACE_MODEL_VERSION}
        if next_token:
            response["NextToken"] = next_token
        return response

    def op_DeleteFaces(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        face_ids = _require(params, "FaceIds")
        if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= 4096:
            raise InvalidParameter("FaceIds must be a list of 1-4096 face ids")
        face_ids = [_face_id(f, "FaceIds") for f in face_ids]
        deleted, missing = self.store.delete_faces(collection_id, face_ids)
        response: dict[str, Any] = {"DeletedFaces": deleted}
        if missing:
            response["UnsuccessfulFaceDeletions"] = [{"FaceId": f, "Reasons": ["FACE_NOT_FOUND"]} for f in missing]
        return response

    # --- search / detect ---
    def op_SearchFacesByImage(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        max_faces = _int(params, "MaxFaces", 1, 4096, 4096)
        threshold = _float(params, "FaceMatchThreshold", 0.0, 100.0, self.settings.default_match_threshold)
        bar = _enum(params, "QualityFilter", _QUALITY_FILTERS, "NONE")
        self.store.require_collection(collection_id)
        image = self._image(params)
        with self.engine.lease() as models:
            faces = models.detect(image)
            if not faces:
                raise InvalidParameter(NO_FACE_MESSAGE)
            largest = faces[0]
            detail = face_detail(image, largest)
            if quality_reasons(detail, largest, bar):
                raise InvalidParameter(NO_FACE_MESSAGE)
            embedding = models.embed(image, largest)
        matches = self.store.index(collection_id).search(embedding, max_faces, threshold)
        return {
            "SearchedFaceBoundingBox": detail["BoundingBox"],
            "SearchedFaceConfidence": detail["Confidence"],
            "FaceMatches": [{"Similarity": sim, "Face": face} for face, sim in matches],
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def op_SearchFaces(self, params: dict[str, Any]) -> dict[str, Any]:
        collection_id = _collection_id(params)
        face_id = _face_id(_require(params, "FaceId"))
        max_faces = _int(params, "MaxFaces", 1, 4096, 4096)
        threshold = _float(params, "FaceMatchThreshold", 0.0, 100.0, self.settings.default_match_threshold)
        embedding = self.store.face_embedding(collection_id, face_id)
        if embedding is None:
            raise InvalidParameter(f"FaceId {face_id} was not found in collection {collection_id}")
        matches = self.store.index(collection_id).search(embedding, max_faces, threshold, exclude_face_id=face_id)
        return {
            "SearchedFaceId": face_id,
            "FaceMatches": [{"Similarity": sim, "Face": face} for face, sim in matches],
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def op_DetectFaces(self, params: dict[str, Any]) -> dict[str, Any]:
        attributes = params.get("Attributes") or ["DEFAULT"]
        if not isinstance(attributes, list) or any(a not in _ATTRIBUTES for a in attributes):
            raise InvalidParameter("Attributes must be a list of " + ", ".join(sorted(_ATTRIBUTES)))
        image = self._image(params)
        with self.engine.lease() as models:
            faces = models.detect(image)
        return {"FaceDetails": [face_detail(image, face) for face in faces]}
