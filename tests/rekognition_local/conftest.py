"""Fixtures: one local Rekognition service per test session on 127.0.0.1, driven through boto3 only."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.session
import pytest
from botocore.config import Config

from rekognition_local.app import RunningServer, build
from rekognition_local.settings import RekognitionSettings
from tests.conftest import require_asset

SERVICE_MODEL = botocore.session.get_session().get_service_model("rekognition")


#: The key pair the session's service accepts (a local test value, not a secret).
TEST_KEY_ID, TEST_SECRET = "AKIDLOCALTEST", "dummy-secret"


def make_client(url: str, key: str = TEST_KEY_ID, secret: str = TEST_SECRET, **config: Any) -> Any:
    """A boto3 Rekognition client for the local service (test credentials, no retries)."""
    return boto3.client(
        "rekognition",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60, **config),
    )


class ShapeError(AssertionError):
    """A response that does not fit botocore's output shape."""


def validate_shape(value: Any, shape: Any, path: str = "$") -> None:
    """Strictly check ``value`` (raw JSON) against a botocore shape: keys, types, enums, ranges."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ShapeError(f"{path}: expected object, got {type(value).__name__}")
        for key, item in value.items():
            if key not in shape.members:
                raise ShapeError(f"{path}.{key}: not a member of {shape.name}")
            validate_shape(item, shape.members[key], f"{path}.{key}")
        for key in shape.required_members:
            if key not in value:
                raise ShapeError(f"{path}: required member {key} missing")
    elif kind == "list":
        if not isinstance(value, list):
            raise ShapeError(f"{path}: expected list, got {type(value).__name__}")
        for i, item in enumerate(value):
            validate_shape(item, shape.member, f"{path}[{i}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise ShapeError(f"{path}: expected string, got {type(value).__name__}")
        if shape.enum and value not in shape.enum:
            raise ShapeError(f"{path}: {value!r} not in enum {shape.enum}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeError(f"{path}: expected integer, got {value!r}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ShapeError(f"{path}: expected number, got {value!r}")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ShapeError(f"{path}: {value} outside [{low}, {high}]")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ShapeError(f"{path}: expected epoch seconds, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(f"{path}: expected boolean, got {value!r}")
    else:
        raise ShapeError(f"{path}: unhandled shape type {kind}")


class ShapeRecorder:
    """Validates every raw response body of a client against the operation's output shape."""

    def __init__(self, client: Any) -> None:
        self.checked: list[str] = []
        self.failures: list[str] = []
        client.meta.events.register("before-parse.rekognition.*", self._check)

    def _check(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        import json

        if response_dict["status_code"] != 200:
            return
        try:
            validate_shape(json.loads(response_dict["body"]), operation_model.output_shape)
            self.checked.append(operation_model.name)
        except ShapeError as exc:
            self.failures.append(f"{operation_model.name}: {exc}")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return require_asset("models/face_detection_yunet_2023mar.onnx").parent


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return require_asset("faces/manifest.csv").parent


@pytest.fixture(scope="session")
def manifest(faces_dir: Path) -> list[tuple[str, list[str]]]:
    with open(faces_dir / "manifest.csv", newline="") as fh:
        return [(row["file"], [x for x in row["expected_person_ids"].split(";") if x]) for row in csv.DictReader(fh)]


def settings_for(models_dir: Path, data_dir: Path, **overrides: Any) -> RekognitionSettings:
    """Service settings for tests: the shared models, never fetching."""
    overrides.setdefault("access_keys", (f"{TEST_KEY_ID}:{TEST_SECRET}",))
    return RekognitionSettings(models_dir=models_dir, models_mirror="", data_dir=data_dir, **overrides)


@pytest.fixture(scope="session")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("rekognition-data")
    running = RunningServer(build(settings_for(models_dir, data_dir)), "127.0.0.1", 0, threads=8).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def shapes() -> list[ShapeRecorder]:
    return []


@pytest.fixture
def client(server: RunningServer, shapes: list[ShapeRecorder]) -> Any:
    c = make_client(server.url)
    recorder = ShapeRecorder(c)
    shapes.append(recorder)
    yield c
    assert not recorder.failures, recorder.failures


@pytest.fixture(scope="session")
def enrolled(server: RunningServer, faces_dir: Path, manifest: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Collection ``enrolled`` with every enroll photo indexed (ExternalImageId = person id)."""
    c = make_client(server.url)
    c.create_collection(CollectionId="enrolled")
    face_ids: dict[str, list[str]] = {}
    for file, ids in manifest:
        if not file.startswith("enroll/"):
            continue
        response = c.index_faces(
            CollectionId="enrolled", Image={"Bytes": (faces_dir / file).read_bytes()},
            ExternalImageId=ids[0], MaxFaces=1,
        )
        assert len(response["FaceRecords"]) == 1, file
        face_ids.setdefault(ids[0], []).append(response["FaceRecords"][0]["Face"]["FaceId"])
    return {"collection": "enrolled", "face_ids": face_ids}
