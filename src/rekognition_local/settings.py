"""Settings of the local Rekognition-compatible service (``ROLLCALL_REKOG_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from common.models import KNOWN_MODELS
from common.settings_base import RollcallSettings

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = KNOWN_MODELS[YUNET_FILE].sha256
YUNET_OFFICIAL_URL = KNOWN_MODELS[YUNET_FILE].url or ""


class RekognitionSettings(RollcallSettings):
    """HTTP, storage, model and matching settings of the local Rekognition service."""

    toml_section = "rekognition"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_REKOG_", extra="ignore", frozen=True)

    # --- HTTP ---
    host: str = Field(
        "127.0.0.1",
        description="Interface the service listens on. Loopback by default so a laptop does not expose it; containers set `0.0.0.0`.",
    )
    port: int = Field(9000, ge=1, le=65535, description="HTTP port (AWS JSON 1.1 on `POST /`, `GET /health`).")
    threads: int = Field(8, ge=1, le=64, description="waitress worker threads (concurrent requests).")
    region: str = Field("us-east-1", description="Region written into collection ARNs.")
    access_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated `AKID:SECRET` pairs allowed to call the service: the AWS SigV4 signature of every request is verified with the key's secret. No `Authorization` -> MissingAuthenticationTokenException, an unknown key id -> UnrecognizedClientException, a wrong signature -> InvalidSignatureException (403). A bare `AKID` without a secret is refused at start. Empty = every call refused, unless `ROLLCALL_REKOG_ALLOW_ANONYMOUS`.",
    )
    allow_anonymous: bool = Field(
        False,
        description="With no `ROLLCALL_REKOG_ACCESS_KEYS`: `true` accepts any caller, signed or not (local experiments only; logged as a warning at start). Ignored when keys are configured.",
    )

    # --- storage ---
    data_dir: Path = Field(
        Path("./data/rekognition"),
        description="Directory of the SQLite database holding collections, faces and embeddings.",
    )

    # --- models ---
    models_dir: Path = Field(
        Path("./models"),
        description="Directory holding `face_detection_yunet_2023mar.onnx` (YuNet). A missing file is fetched from the mirror and sha256-checked.",
    )
    models_mirror: str = Field(
        YUNET_OFFICIAL_URL.rsplit("/", 1)[0],
        description="Where a missing YuNet file is fetched from: a local directory or an http(s) base URL (default: the official OpenCV Zoo location). Empty = never fetch.",
    )
    inference_workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Independent detector + embedding model instances (requests beyond this wait for a free one).",
    )
    embedding_processes: int = Field(
        0,
        ge=0,
        le=32,
        description="0 = compute face embeddings in the request threads (dlib holds the GIL for landmarks and alignment, ONNX Runtime releases it for the network); N = in N worker processes (about N cores; ~110 MB resident and a few seconds of start-up each).",
    )

    # --- detection / matching ---
    detect_max_side: int = Field(
        1280,
        ge=160,
        le=8192,
        description="Images are downscaled so their longer side is at most this before face detection (embeddings use the full-resolution face).",
    )
    detect_score_threshold: float = Field(
        0.6, ge=0.05, le=1.0, description="Minimum YuNet score (0-1) for a detected face."
    )
    min_face_px: int = Field(
        40,
        ge=0,
        le=1080,
        description="Minimum face size as on AWS Rekognition (40x40 px in a 1920x1080 image): a face whose box has a side shorter than this x max(1, width/1920, height/1080) of the image is not detected (not searched, indexed or listed by DetectFaces). 0 = no minimum.",
    )
    default_match_threshold: float = Field(
        80.0, ge=0, le=100, description="FaceMatchThreshold used when a request omits it (AWS default: 80)."
    )
    max_image_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest accepted image (decoded bytes); larger -> ImageTooLargeException (AWS limit: 5 MB).",
    )
    max_image_pixels: int = Field(
        24_000_000,
        ge=80 * 80,
        le=16384 * 16384,
        description="Largest image decoded (pixels, read from the JPEG/PNG header before any pixel is decoded; 24 MP = a 6000x4000 photo); larger -> ImageTooLargeException. An image whose header cannot be read, or that decodes to another size than its header says -> InvalidImageFormatException.",
    )

    @field_validator("access_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list):
            for entry in value:
                key, _, secret = str(entry).partition(":")
                if not key or not secret:
                    raise ValueError(
                        f"entry {key or '(empty)'!r} has no secret: entries are AKID:SECRET "
                        "(a bare key id would let anyone who knows it call the service)"
                    )
        return value
