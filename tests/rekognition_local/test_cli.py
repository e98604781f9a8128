"""`rollcall-rekognition` as a real process: help, serve, access keys, JSON logs, persistence, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import wait_until

from .conftest import make_client

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "rekognition_local.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(CLI + ["serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"service exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                assert json.loads(response.read())["status"] == "ok"
                return True
        except OSError:
            return False

    try:
        wait_until(healthy, timeout=60, interval=0.2, message="service did not become healthy")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "ROLLCALL_REKOG_MODELS_DIR": str(models_dir),
        "ROLLCALL_REKOG_MODELS_MIRROR": "",
        "ROLLCALL_REKOG_DATA_DIR": str(tmp_path / "data"),
        "ROLLCALL_REKOG_ACCESS_KEYS": "AKIDGOOD1:secret-1,AKIDGOOD2:secret-2",
        "ROLLCALL_LOG_DIR": str(tmp_path / "logs"),
        "ROLLCALL_INSTANCE_ID": "test",
        "ROLLCALL_REKOG_INFERENCE_WORKERS": "1",
    }


def test_help() -> None:
    out = subprocess.run(CLI + ["--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "serve" in out.stdout and "endpoint_url" in out.stdout
    out = subprocess.run(CLI + ["serve", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--port" in out.stdout


def test_bad_configuration_is_reported(env: dict[str, str]) -> None:
    out = subprocess.run(CLI + ["serve"], env={**env, "ROLLCALL_REKOG_PORT": "not-a-port"}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "ROLLCALL_REKOG_PORT" in out.stderr
    out = subprocess.run(CLI + ["serve"], env={**env, "ROLLCALL_REKOG_ACCESS_KEYS": "rollcall-local"}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "ROLLCALL_REKOG_ACCESS_KEYS" in out.stderr and "no secret" in out.stderr


def test_missing_model_without_mirror_fails_clearly(env: dict[str, str], tmp_path: Path) -> None:
    out = subprocess.run(CLI + ["models"], env={**env, "ROLLCALL_REKOG_MODELS_DIR": str(tmp_path / "empty")}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "face_detection_yunet_2023mar.onnx" in out.stderr


def test_serve_access_keys_logs_and_persistence(env: dict[str, str], tmp_path: Path, faces_dir: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(env, port)
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # says it has no emotions
            health = json.loads(response.read())
        assert health["emotions"] is False and "returns no emotions" in health["emotions_detail"]
        good = make_client(url, key="AKIDGOOD2", secret="secret-2")

        def add_trace(request, **_):  # how the cloud tier can tag its calls for the logs
            request.headers["X-Rollcall-Trace-Id"] = "trace-123"

        good.meta.events.register("before-sign.rekognition.CreateCollection", add_trace)
        good.create_collection(CollectionId="persist")
        good.index_faces(CollectionId="persist", Image={"Bytes": (faces_dir / "enroll/biden/1.jpg").read_bytes()}, ExternalImageId="biden")
        for client, code in (
            (make_client(url, key="AKIDSTRANGER"), "UnrecognizedClientException"),
            (make_client(url, key="AKIDGOOD1", secret="secret-2"), "InvalidSignatureException"),
            (boto3.client("rekognition", endpoint_url=url, region_name="us-east-1", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1})),
             "MissingAuthenticationTokenException"),
        ):
            with pytest.raises(ClientError) as exc:
                client.list_collections()
            assert exc.value.response["Error"]["Code"] == code
    finally:
        assert _stop(proc) == 0

    lines = [json.loads(x) for x in (tmp_path / "logs" / "rekognition-test.jsonl").read_text().splitlines()]
    requests = [x for x in lines if x["event"] == "request"]
    assert [(r["operation"], r["status"]) for r in requests] == [
        ("CreateCollection", 200), ("IndexFaces", 200), ("ListCollections", 400), ("ListCollections", 403),
        ("ListCollections", 400),
    ]
    assert requests[-1]["error_code"] == "MissingAuthenticationTokenException" and "error_code" not in requests[0]
    assert requests[0]["trace_id"] == "trace-123" and "trace_id" not in requests[1]
    assert all(isinstance(r["ms"], float) and r["tier"] == "rekognition" for r in requests)
    assert any(x["event"] == "stopped" for x in lines)
    [notice] = [x for x in lines if x["event"] == "emotions_unsupported"]
    assert notice["level"] == "WARNING" and "returns no emotions" in notice["detail"]

    proc = _start(env, port)  # same data dir: the collection and its face survived the restart
    try:
        client = make_client(url, key="AKIDGOOD1", secret="secret-1")
        assert client.describe_collection(CollectionId="persist")["FaceCount"] == 1
        response = client.search_faces_by_image(CollectionId="persist", Image={"Bytes": (faces_dir / "enroll/biden/2.jpg").read_bytes()})
        assert response["FaceMatches"][0]["Face"]["ExternalImageId"] == "biden"
    finally:
        assert _stop(proc) == 0
