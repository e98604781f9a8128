"""Wiring: settings -> storage + evidence store + recognizer -> AttendanceService."""

from __future__ import annotations

import logging

import boto3

from common.logs import log_event
from common.metrics import Metrics

from .aws_client import credentials_available, make_rekognition_client
from .errors import RecognitionUnavailable
from .quota import OperationQuota
from .recognition import RekognitionRecognizer
from .service import AttendanceService
from .settings import CloudSettings
from .storage.base import AttendanceStore
from .storage.evidence import EvidenceStore, LocalEvidenceStore, S3EvidenceStore

log = logging.getLogger("rollcall.cloud.bootstrap")


def build_store(settings: CloudSettings, session: boto3.session.Session | None = None) -> AttendanceStore:
    """The attendance store named by ``settings.storage``."""
    if settings.storage == "dynamodb":
        from .storage.dynamodb import DynamoDBStore

        session = session or boto3.session.Session(region_name=settings.aws_region)
        resource = session.resource(
            "dynamodb", region_name=settings.aws_region, endpoint_url=settings.dynamodb_endpoint_url or None
        )
        return DynamoDBStore(
            resource, prefix=settings.dynamodb_table_prefix, create_tables=settings.dynamodb_create_tables
        )
    from .storage.sqlite import SQLiteStore

    return SQLiteStore(settings.data_dir / "rollcall.sqlite3")


def build_evidence_store(settings: CloudSettings, session: boto3.session.Session | None = None) -> EvidenceStore:
    """S3 when ``s3_bucket`` is set, else files under the data dir."""
    if settings.s3_bucket:
        session = session or boto3.session.Session(region_name=settings.aws_region)
        client = session.client("s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url or None)
        return S3EvidenceStore(client, settings.s3_bucket, settings.s3_prefix)
    return LocalEvidenceStore(settings.data_dir)


def build_recognizer(
    settings: CloudSettings, metrics: Metrics, session: boto3.session.Session | None = None
) -> RekognitionRecognizer:
    """A Rekognition recognizer on the configured endpoint (AWS or local)."""
    session = session or boto3.session.Session(region_name=settings.aws_region)
    client = make_rekognition_client(
        settings.aws_region, settings.rekognition_endpoint_url, settings.rekognition_timeout_s, session=session
    )
    quota = None
    if settings.rekognition_calls_per_s > 0:
        quota = OperationQuota(settings.rekognition_calls_per_s, settings.rekognition_quota_wait_s)
    return RekognitionRecognizer(
        client,
        collection_id=settings.collection_id,
        match_threshold=settings.match_threshold,
        max_retries=settings.rekognition_max_retries,
        backoff_s=settings.rekognition_backoff_s,
        metrics=metrics,
        quota=quota.acquire if quota else None,
    )


def build_service(settings: CloudSettings | None = None, ensure_collection: bool = True) -> AttendanceService:
    """Build the service. Rekognition problems at start (no credentials, endpoint
    down) are logged clearly and counted; the service still starts (crops then
    fail closed and /api/health says why) instead of crash-looping."""
    settings = settings or CloudSettings()
    metrics = Metrics()
    session = boto3.session.Session(region_name=settings.aws_region)
    store = build_store(settings, session)
    evidence = build_evidence_store(settings, session)
    recognizer = build_recognizer(settings, metrics, session)
    endpoint = settings.rekognition_endpoint_url or f"aws:{settings.aws_region}"
    service = AttendanceService(
        store,
        evidence,
        recognizer,
        settings,
        metrics=metrics,
        storage_backend=settings.storage,
        rekognition_endpoint=endpoint,
    )
    if not credentials_available(session):
        metrics.inc("startup_no_credentials")
        log_event(
            log,
            "aws_credentials_missing",
            level=logging.ERROR,
            endpoint=endpoint,
            detail="no AWS credentials in the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE or an instance role); recognition will fail closed until they are provided",
        )
    elif ensure_collection:
        try:
            created = recognizer.ensure_collection()
            log_event(
                log,
                "rekognition_ready",
                endpoint=endpoint,
                collection_id=settings.collection_id,
                collection_created=created,
            )
        except RecognitionUnavailable as exc:
            metrics.inc("startup_rekognition_unavailable")
            log_event(
                log, "rekognition_unavailable_at_start", level=logging.ERROR, endpoint=endpoint, detail=exc.message
            )
    log_event(
        log,
        "cloud_service_built",
        storage=settings.storage,
        evidence="s3" if settings.s3_bucket else "local",
        endpoint=endpoint,
        collection_id=settings.collection_id,
    )
    return service
