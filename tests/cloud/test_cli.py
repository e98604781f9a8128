"""``rollcall-cloud``: help, enrol-dir, export-csv, and serve (ingest + HTTP) with a clean SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cloud import cli
from common.protocol import MessageType
from common.transport import Sender
from tests.cloud.api_support import face_crop, make_jpeg, make_service
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]
ROLLCALL_CLOUD = Path(sys.executable).parent / "rollcall-cloud"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "cloud.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "enrol-dir", "export-csv"):
        assert command in result.stdout
    serve_help = subprocess.run([sys.executable, "-m", "cloud.cli", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert "--port" in serve_help.stdout and "--no-ingest" in serve_help.stdout


def test_bad_settings_exit_2_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("ROLLCALL_CLOUD_HTTP_PORT", "not-a-port")
    assert cli.main(["serve"]) == 2
    assert "ROLLCALL_CLOUD_HTTP_PORT" in capsys.readouterr().err


def test_student_name_from_dir():
    assert cli.student_name_from_dir("guido_van_rossum") == "Guido Van Rossum"
    assert cli.student_name_from_dir("s-1001") == "S 1001"


@pytest.fixture()
def fake_service(tmp_path, monkeypatch):
    """Make the CLI build a real service with the fake recognizer."""
    service, recognizer = make_service(tmp_path / "data")
    monkeypatch.setattr(cli, "build_service", lambda settings, ensure_collection=True: service)
    monkeypatch.setattr(service.store, "close", lambda: None)  # the test still reads it afterwards
    return service, recognizer


def test_enrol_dir(tmp_path, fake_service, capsys):
    service, recognizer = fake_service
    root = tmp_path / "photos"
    for student, seeds in {"ada_lovelace": [1, 2], "grace": [3]}.items():
        (root / student).mkdir(parents=True)
        for n, seed in enumerate(seeds, 1):
            (root / student / f"{n}.jpg").write_bytes(make_jpeg(seed))
    (root / "grace" / "notes.txt").write_text("not a photo")
    (root / "bad id").mkdir()
    crowd = make_jpeg(9)
    recognizer.faces_in(crowd, 2)
    (root / "grace" / "2.jpg").write_bytes(crowd)
    (root / "grace" / "3.jpg").write_bytes(b"\xff\xd8\xff garbage")

    assert cli.main(["enrol-dir", str(root)]) == 1  # some photos failed
    out = capsys.readouterr().out
    assert service.get_student("ada_lovelace").name == "Ada Lovelace"
    assert len(service.list_faces("ada_lovelace")) == 2
    assert len(service.list_faces("grace")) == 1
    assert "grace/2.jpg: FAILED (the photo shows 2 faces" in out
    assert "grace/3.jpg: FAILED" in out
    assert "bad id: skipped" in out
    assert "enrolled 3 photo(s), 3 failed" in out

    # a second run skips students who already have faces
    shutil.rmtree(root / "bad id")
    (root / "grace" / "2.jpg").unlink()
    (root / "grace" / "3.jpg").unlink()
    assert cli.main(["enrol-dir", str(root)]) == 0
    assert "already enrolled, skipped" in capsys.readouterr().out
    assert len(recognizer.collection) == 3


def test_enrol_dir_missing_directory(tmp_path, fake_service, capsys):
    assert cli.main(["enrol-dir", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_export_csv(tmp_path, fake_service, capsys):
    service, recognizer = fake_service
    service.create_student("s1", "Ada Lovelace")
    service.create_classroom("room-1", "Room 1")
    service.enrol_photo("s1", make_jpeg(1))
    session = service.open_session("room-1")
    crop = make_jpeg(5)
    recognizer.shows(crop, "s1", 96.0)  # confident (>= 95): recorded at once
    service.process_crop(face_crop(crop, "room-1"))

    assert cli.main(["export-csv", session.session_id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("session_id,classroom_id") and "Ada Lovelace" in lines[1] and len(lines) == 2

    target = tmp_path / "out.csv"
    assert cli.main(["export-csv", session.session_id, "-o", str(target)]) == 0
    assert "Ada Lovelace" in target.read_text()
    assert cli.main(["export-csv", "0123456789abcdef"]) == 1
    assert "not found" in capsys.readouterr().err


SEED_TOKEN = "rct_serve-test-token-0123456789abcdefghij"  # pragma: allowlist secret
AUTH = {"Authorization": f"Bearer {SEED_TOKEN}"}


def _get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **AUTH}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.timeout(90)
def test_serve_runs_ingest_and_http_and_stops_on_sigterm(tmp_path):
    """The real entry point: HTTP answers, a crop sent over ZeroMQ gets a RESULT
    (Rekognition is unreachable, so it fails closed as ``error``), SIGTERM exits 0."""
    http_port, zmq_port = free_port(), free_port()
    env = {
        **os.environ,
        "ROLLCALL_LOG_DIR": str(tmp_path / "logs"),
        "ROLLCALL_INSTANCE_ID": "clitest",
        "ROLLCALL_CLOUD_DATA_DIR": str(tmp_path / "data"),
        "ROLLCALL_CLOUD_HTTP_HOST": "127.0.0.1",
        "ROLLCALL_CLOUD_HTTP_PORT": str(http_port),
        "ROLLCALL_CLOUD_ZMQ_BIND": f"tcp://127.0.0.1:{zmq_port}",
        "ROLLCALL_CLOUD_REKOGNITION_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "ROLLCALL_CLOUD_REKOGNITION_MAX_RETRIES": "0",
        "ROLLCALL_CLOUD_REKOGNITION_TIMEOUT_S": "2",
        "ROLLCALL_CLOUD_STORAGE": "sqlite",
        "ROLLCALL_CLOUD_S3_BUCKET": "",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ROLLCALL_CLOUD_ADMIN_USER": "demo-admin",
        "ROLLCALL_CLOUD_ADMIN_PASSWORD": "a demo password",  # pragma: allowlist secret
        "ROLLCALL_CLOUD_SEED_TOKEN": SEED_TOKEN,
    }
    env.pop("ROLLCALL_CONFIG_FILE", None)
    command = [str(ROLLCALL_CLOUD)] if ROLLCALL_CLOUD.exists() else [sys.executable, "-m", "cloud.cli"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{http_port}"
    sender = None

    def http_up() -> tuple[int, dict] | None:
        if proc.poll() is not None:
            raise AssertionError(f"the cloud exited with {proc.returncode} before its HTTP came up")
        try:
            return _get_json(f"{base}/api/health")
        except (urllib.error.URLError, ConnectionError):
            return None

    try:
        status, health = wait_until(http_up, timeout=30, interval=0.2, message="HTTP never came up")
        assert status == 200, health
        assert health["status"] == "degraded" and health["rekognition"]["ok"] is False

        with urllib.request.urlopen(f"{base}/", timeout=5) as page:  # follows the redirect to the login page
            assert page.status == 200 and page.url == f"{base}/login?next=/" and b"Log in" in page.read()
        assert _get_json(f"{base}/api/classrooms")[0] == 401
        assert _get_json(f"{base}/api/me", AUTH) == (200, {"actor": "token:seeder", "role": "teacher"})
        assert _post_json(f"{base}/api/classrooms", {"classroom_id": "room-1", "name": "Room 1"})[0] == 201
        assert _post_json(f"{base}/api/sessions", {"classroom_id": "room-1"})[0] == 201

        sender = Sender(f"tcp://127.0.0.1:{zmq_port}", kind="dealer", hwm=10)
        crop = face_crop(make_jpeg(1), "room-1")
        result = None
        deadline = time.monotonic() + 20
        while result is None and time.monotonic() < deadline:
            sender.send(crop)  # same msg_id: idempotent on the cloud side
            result = sender.recv(timeout_ms=2000)
        assert result is not None, "no RESULT from the ingest"
        assert result.header.type is MessageType.RESULT
        assert result.header.meta["ack_of"] == crop.header.msg_id
        assert result.header.meta["status"] == "error"  # Rekognition unreachable: fail closed

        status, metrics = _get_json(f"{base}/api/metrics", AUTH)
        assert status == 200 and metrics["http"]["counters"]["http_requests"] >= 4
        assert metrics["service"]["counters"]["crops_received"] >= 1
    finally:
        if sender is not None:
            sender.close()
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail("rollcall-cloud did not stop within 20 s of SIGTERM:\n" + output[-3000:])
    assert proc.returncode == 0, output[-3000:]
    events = [json.loads(line).get("event") for line in output.splitlines() if line.startswith("{")]
    for expected in ("http_started", "ingest_started", "shutdown_requested", "ingest_stopped", "cloud_stopped",
                     "secret_key_generated", "bootstrap_admin_created", "bootstrap_token_registered"):
        assert expected in events, (expected, output[-3000:])
    assert "Traceback" not in output
    assert "a demo password" not in output and SEED_TOKEN not in output  # secrets never reach the logs
    assert ((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == 0o600


@pytest.fixture()
def restore_logging():
    """serve() configures the root logger; undo it after the test."""
    import logging

    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rollcall", False):
            root.removeHandler(handler)
            handler.close()


def test_serve_port_in_use_exits_1(tmp_path, monkeypatch, restore_logging):
    monkeypatch.setenv("ROLLCALL_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("ROLLCALL_CLOUD_DATA_DIR", str(tmp_path / "data"))
    service, _ = make_service(tmp_path / "data2")
    monkeypatch.setattr(cli, "build_service", lambda settings, ensure_collection=True: service)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--host", "127.0.0.1", "--port", str(port), "--no-ingest"]) == 1
