"""Cloud tier settings (``ROLLCALL_CLOUD_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from common.keyring import KEYS_DIR_DESCRIPTION, TRANSPORT_DESCRIPTION, TransportMode
from common.settings_base import RollcallSettings


class CloudSettings(RollcallSettings):
    """Ingest, recognition, storage and HTTP settings of the cloud tier."""

    toml_section = "cloud"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_CLOUD_", extra="ignore", frozen=True)

    # --- ingest (ZeroMQ from the edge) ---
    zmq_bind: str = Field(
        "tcp://*:5556",
        description="ZeroMQ ROUTER address the cloud binds for face crops from the edge (RESULT replies go back on it).",
    )
    workers: int = Field(
        4, ge=1, le=64, description="Worker threads that run recognition + recording for incoming face crops."
    )
    queue_size: int = Field(
        64,
        ge=1,
        description="Bounded work queue between the ZeroMQ receiver and the workers; when full, crops are answered `error` (reason `overloaded`) and counted.",
    )
    max_crop_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Largest face crop accepted (bytes); larger crops are answered `error` (reason `oversize`) and counted.",
    )
    max_crop_pixels: int = Field(
        4_000_000,
        ge=64 * 64,
        le=16384 * 16384,
        description="Largest face crop decoded (pixels, read from the JPEG/PNG header before any pixel is decoded). Larger crops are answered `error` (reason `image_too_large`); crops whose header cannot be read (`image_header_unreadable`) or whose size differs from the message's `image.width/height` (`image_size_mismatch`) too. All permanent: the edge does not retry them.",
    )
    max_cameras: int = Field(
        1024,
        ge=1,
        description="Cameras the ingest keeps figures for (`/api/metrics` `ingest.cameras`) and cameras whose END_OF_STREAM is remembered (`streams_ended`); beyond it the least recently seen is forgotten (`cameras_forgotten`). Metrics show counts and the top 20.",
    )
    transport: TransportMode = Field("curve", description=TRANSPORT_DESCRIPTION)
    keys_dir: Path = Field(
        Path("./keys"),
        description=KEYS_DIR_DESCRIPTION.format(bundle="cloud")
        + " The ingest accepts only registered edge keys, and from each edge only crops of the cameras registered to it, with their classroom.",
    )

    # --- HTTP (API + dashboard, used by cloud.app / cloud.cli) ---
    http_host: str = Field("0.0.0.0", description="Interface the HTTP API + dashboard listen on.")
    http_port: int = Field(8080, ge=1, le=65535, description="Port of the HTTP API + dashboard.")
    http_threads: int = Field(8, ge=1, le=64, description="Waitress worker threads serving the HTTP API.")
    max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest accepted upload (enrolment photo); larger gets 413."
    )

    # --- HTTP authentication (cloud.auth; see docs/security.md "HTTP authentication") ---
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key that signs session cookies and CSRF tokens. Empty = read `<data_dir>/secret_key`, generated (random, mode 0600) on first start. Never commit it.",
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the session cookie `Secure` (sent over HTTPS only). Turn on whenever the dashboard is served behind HTTPS (a TLS proxy); off only for plain-HTTP loopback or demo use.",
    )
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="A dashboard login ends after this many hours without a request."
    )
    admin_user: str = Field(
        "",
        description="If set (with `admin_password`) and no such user exists, an admin with this name is created at start (the compose demo's admin).",
    )
    admin_password: SecretStr = Field(SecretStr(""), description="Password of `admin_user` (at least 10 characters).")
    seed_token: SecretStr = Field(
        SecretStr(""),
        description="If set, registered at start as the teacher-role API token named `seeder` (the compose demo seeder's token; at least 32 characters).",
    )
    login_attempts_per_min: int = Field(
        5,
        ge=1,
        description="Failed logins allowed per minute per client address and per username; beyond them the key is locked out, one minute doubling per further failure up to 15 minutes (429 with Retry-After).",
    )
    writes_per_min: float = Field(
        300.0,
        ge=0,
        description="State-changing API requests (create, upload, update, delete) allowed per minute per caller (user or token), bursts up to a third of it; beyond: 429 with Retry-After. 0 = no limit.",
    )
    page_size: int = Field(
        100, ge=1, le=1000, description="Items per page of the list endpoints when `?limit=` is not given."
    )
    max_page_size: int = Field(500, ge=1, le=5000, description="Largest `?limit=` the list endpoints accept.")

    # --- recognition (AWS Rekognition or the local compatible service) ---
    aws_region: str = Field("us-east-1", description="AWS region for Rekognition, DynamoDB and S3.")
    rekognition_endpoint_url: str = Field(
        "",
        description="Rekognition endpoint. Empty = real AWS; e.g. `http://127.0.0.1:9000` for the local Rekognition-compatible service. Credentials always come from the standard AWS chain (env vars / instance role).",
    )
    collection_id: str = Field(
        "rollcall",
        pattern=r"^[a-zA-Z0-9_.\-]{1,255}$",
        description="Rekognition face collection (created on start if missing).",
    )
    match_threshold: float = Field(
        80.0,
        ge=0,
        le=100,
        description="Minimum similarity (0-100) for SearchFacesByImage to count as a match (AWS's default 80). Matches that are not confident (see `confident_similarity`) must be confirmed by further crops of the same track.",
    )
    confident_similarity: float = Field(
        95.0,
        ge=0,
        le=100,
        description="A match at least this similar (and `min_margin` clear of the next student, and not contradicted by an earlier attempt of the same track) is accepted at once; any other match needs the track's attempts to agree: two votes for the student, more than all other votes together.",
    )
    min_margin: float = Field(
        10.0,
        ge=0,
        le=100,
        description="Similarity points a match must lead the best other student by to be accepted without a second look.",
    )
    small_face_px: int = Field(
        64,
        ge=0,
        le=4096,
        description="Faces smaller than this (shorter side of the face box in the camera's frame, pixels, from the edge's crop metadata) are accepted only by a confident match (`confident_similarity` and `min_margin`); their weaker matches do not vote. Small faces carry little identity: strangers' 41-58 px faces matched enrolled students at 80-94 % here, while enrolled students at those sizes reached 96-99 %. 0 = off.",
    )
    session_face_cache: bool = Field(
        True,
        description="Keep, in memory and per session only, the face embeddings (dlib, in one worker process) of crops recognised and recorded; a later crop of the session whose face clearly matches one student's is recorded as that student without a Rekognition call (`session_face_hits`). Off: every crop is searched.",
    )
    session_face_distance: float = Field(
        0.45,
        gt=0,
        le=0.6,
        description="Largest dlib embedding distance of a session-face match (on the shared face photos at 64-120 px faces, different people are 0.64 and more apart and one person in two different photos 0.42 at the median; dlib's own same-person threshold is 0.6).",
    )
    rekognition_max_retries: int = Field(
        4,
        ge=0,
        le=10,
        description="Retries (exponential backoff) when Rekognition throttles; then the crop fails closed (`error`).",
    )
    rekognition_calls_per_s: float = Field(
        5.0,
        ge=0,
        description="Calls per second allowed to each Rekognition operation (a token bucket; AWS's default quota is 5 for SearchFacesByImage in most regions). A call waits for its turn up to `rekognition_quota_wait_s`, then the crop fails as `throttled` and the edge retries it later. 0 = no limit.",
    )
    rekognition_quota_wait_s: float = Field(
        10.0, ge=0, description="Longest wait for a turn in the Rekognition request quota."
    )
    rekognition_backoff_s: float = Field(
        0.2, ge=0, description="First backoff delay in seconds (doubles each retry, with jitter)."
    )
    rekognition_timeout_s: float = Field(
        10.0, gt=0, description="Connect/read timeout of each Rekognition call in seconds."
    )
    detect_emotions: bool = Field(
        False,
        description="Also call DetectFaces (EMOTIONS) for recognised faces and store the dominant emotion per sighting (one extra API call each).",
    )

    # --- attendance policy ---
    auto_create_classrooms: bool = Field(
        False,
        description="A crop from a classroom id that is not registered is answered `error` (reason `unknown_classroom`, permanent: the edge drops it) and counted (false, the default: register classrooms through the API or the dashboard), or creates the classroom (true; anyone who can reach the ingest port can then create classrooms).",
    )
    auto_open_session: bool = Field(
        False,
        description="When a crop arrives for a classroom without an open session, open one automatically (demo mode). Off: the crop is not recognised, answered `unknown` with reason `no_open_session`, and counted.",
    )
    late_crop_grace_s: float = Field(
        3 * 3600.0,
        ge=0,
        description="A crop that reaches the cloud after its class session ended (held in the edge's outbox through an outage, or sent across the end of a class) is filed under the session that was open when the edge received its frame, up to this many seconds later (the edge's outbox keeps a crop 3 h), and counted (`crops_late`); the edge's clock is trusted up to 60 s ahead. 0: only the session open now counts.",
    )
    unknown_retention_days: float = Field(
        30.0, gt=0, description="Pending and dismissed unknown faces (and their crops) older than this are purged."
    )
    crop_retention_days: float = Field(
        30.0,
        gt=0,
        description="Face crops of recognised sightings and assigned unknown faces older than this are deleted (hourly); the attendance record stays, its `evidence_ref` becomes null.",
    )

    # --- teacher workflows (courses, timetable, attendance states) ---
    school_timezone: str = Field(
        "UTC",
        description="IANA time zone of the school (e.g. `Europe/Paris`): timetable slots and report dates are in it.",
    )
    late_grace_minutes: float = Field(
        10.0,
        ge=0,
        description="A roster student first seen by a camera more than this many minutes after the session started is `late`, not `present_camera`.",
    )
    timetable_interval_s: float = Field(
        30.0,
        gt=0,
        description="How often the timetable scheduler creates the sessions of the weekly slots (it is idempotent: one session per slot and day, whatever restarts happen).",
    )
    timetable_lookahead_hours: float = Field(
        0.25,
        ge=0,
        le=24 * 14,
        description="The scheduler creates a slot's session this long before it starts (shown as `scheduled`); it opens and closes at the slot's times by itself. Keep it short: while a scheduled session exists, a session opened by hand without an end in that classroom overlaps it and is refused.",
    )

    @field_validator("school_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value[:60]!r} (use an IANA name such as Europe/Paris)") from None
        return value

    # --- storage ---
    storage: Literal["sqlite", "dynamodb"] = Field(
        "sqlite", description="Attendance database backend: `sqlite` (file in the data dir) or `dynamodb`."
    )
    data_dir: Path = Field(
        Path("./data/cloud"), description="Directory of the SQLite database, local evidence crops and CSV exports."
    )
    dynamodb_endpoint_url: str = Field(
        "", description="DynamoDB endpoint (empty = real AWS; e.g. a DynamoDB Local URL)."
    )
    dynamodb_table_prefix: str = Field(
        "rollcall-", description="Prefix of the DynamoDB table names (`<prefix>students`, `<prefix>sessions`, ...)."
    )
    dynamodb_create_tables: bool = Field(
        True, description="Create missing DynamoDB tables on start (on-demand billing)."
    )
    s3_bucket: str = Field(
        "", description="S3 bucket for evidence crops and CSV exports. Empty = local files under the data dir."
    )
    s3_prefix: str = Field("rollcall/", description="Key prefix inside the S3 bucket.")
    s3_endpoint_url: str = Field("", description="S3 endpoint (empty = real AWS).")
