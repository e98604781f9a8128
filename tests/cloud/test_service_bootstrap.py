"""build_service wiring: backends chosen from settings; Rekognition trouble at
start is reported and counted, never fatal."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cloud.bootstrap import build_service
from cloud.settings import CloudSettings
from cloud.storage.dynamodb import DynamoDBStore
from cloud.storage.evidence import LocalEvidenceStore, S3EvidenceStore
from cloud.storage.sqlite import SQLiteStore


def test_default_is_sqlite_and_local_files(tmp_path: Path, aws_env: None) -> None:
    svc = build_service(CloudSettings(data_dir=tmp_path, rekognition_endpoint_url="http://127.0.0.1:1",
                                      rekognition_timeout_s=1))
    assert isinstance(svc.store, SQLiteStore) and isinstance(svc.evidence, LocalEvidenceStore)
    assert (tmp_path / "rollcall.sqlite3").exists()
    assert svc.metrics()["counters"]["startup_rekognition_unavailable"] == 1
    health = svc.health()
    assert health["status"] == "degraded" and health["storage"]["ok"] and not health["rekognition"]["ok"]


def test_dynamodb_and_s3(tmp_path: Path, moto_aws: None) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="evidence")
    svc = build_service(CloudSettings(storage="dynamodb", s3_bucket="evidence", data_dir=tmp_path,
                                      rekognition_endpoint_url="http://127.0.0.1:1", rekognition_timeout_s=1))
    assert isinstance(svc.store, DynamoDBStore) and isinstance(svc.evidence, S3EvidenceStore)
    svc.create_student("ada", "Ada")
    assert svc.get_student("ada").name == "Ada"
    tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    assert "rollcall-attendance" in tables and "rollcall-unknown_faces" in tables
    health = svc.health()
    assert health["storage"]["ok"] and health["evidence"]["ok"]


def test_missing_credentials_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    svc = build_service(CloudSettings(data_dir=tmp_path))
    assert svc.metrics()["counters"]["startup_no_credentials"] == 1
    assert "no AWS credentials" in svc.health()["rekognition"]["detail"]
