"""The seeder and its script helpers against the real cloud HTTP API (Flask app + AttendanceService on
SQLite, served on 127.0.0.1), so the in-memory fake cannot drift from the contract unnoticed.
Only Rekognition is replaced (tests/cloud/api_support.FakeRecognizer)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from cloud.app import create_app
from demo_seed.cli import main
from tests.cloud.api_support import FakeRecognizer, face_crop, make_jpeg, make_service


SEED_TOKEN = "rct_compose-demo-seed-token-0123456789abcdef"


@pytest.fixture()
def real_cloud(tmp_path: Path) -> Iterator[tuple[str, object, FakeRecognizer]]:
    # the compose demo's way: the cloud registers ROLLCALL_CLOUD_SEED_TOKEN, the seeder sends it
    service, recognizer = make_service(tmp_path / "cloud", seed_token=SEED_TOKEN)
    app = create_app(service=service, settings=service.settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", service, recognizer
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _faces(root: Path) -> None:
    for i, name in enumerate(["enroll/ada_lovelace/1.jpg", "enroll/ada_lovelace/2.jpg", "enroll/alan_turing/1.jpg",
                              "probe/ada.jpg", "probe/stranger.jpg"]):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(make_jpeg(seed=i, size=160))
    (root / "manifest.csv").write_text("file,expected_person_ids\nprobe/ada.jpg,ada_lovelace\nprobe/stranger.jpg,\n")


def test_seed_then_lecture_helpers_on_the_real_api(real_cloud: tuple[str, object, FakeRecognizer], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url, service, recognizer = real_cloud
    faces = tmp_path / "faces"
    _faces(faces)
    for key, value in {"ENROLL_DIR": faces / "enroll", "PROBE_DIR": faces / "probe", "MANIFEST": faces / "manifest.csv",
                       "FRAMES_DIR": tmp_path / "frames", "CLASSROOM_ID": "demo-7", "WAIT_S": "5"}.items():
        monkeypatch.setenv(f"ROLLCALL_SEED_{key}", str(value))
    monkeypatch.setenv("ROLLCALL_LOG_DIR", str(tmp_path / "logs"))

    assert main(["--api", url, "seed"]) == 1  # no token: the real API answers 401, the seeder says what to set
    assert "ROLLCALL_SEED_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("ROLLCALL_SEED_TOKEN", SEED_TOKEN)
    assert main(["--api", url, "seed"]) == 0
    assert main(["--api", url, "seed"]) == 0  # idempotent against the real service too
    assert {s.student_id for s in service.list_students()} == {"ada_lovelace", "alan_turing"}
    assert len(service.list_faces("ada_lovelace")) == 2 and len(recognizer.collection) == 3
    demo_sessions = service.list_sessions(classroom_id="demo-7", status="open")
    assert len(demo_sessions) == 1
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == 2
    # `seed` logs JSON to stdout through the root logger (its own process in real use): detach it here
    # so the server thread's logs do not mix with the next commands' JSON output.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_rollcall", False)]:
        root.removeHandler(handler)
        handler.close()
    capsys.readouterr()

    # recorded_lecture.sh's sequence: open (twice: the second closes the first), record, wait, export
    assert main(["--api", url, "open-session", "--classroom", "hall", "--close-open"]) == 0
    first = json.loads(capsys.readouterr().out)["session_id"]
    assert main(["--api", url, "open-session", "--classroom", "hall"]) == 1  # 409 from the real API
    assert "409" in capsys.readouterr().err
    assert main(["--api", url, "open-session", "--classroom", "hall", "--close-open"]) == 0
    session = json.loads(capsys.readouterr().out)["session_id"]
    assert session != first and service.get_session(first).status == "closed"

    crop = make_jpeg(seed=42)
    recognizer.shows(crop, "alan_turing", 97.5)
    assert service.process_crop(face_crop(crop, "hall")).header.meta["status"] == "recognised"
    assert main(["--api", url, "wait-attendance", "--session", session, "--student", "alan_turing",
                 "--timeout", "5", "--interval", "0.1"]) == 0
    records = json.loads(capsys.readouterr().out)["records"]
    assert [r["student_id"] for r in records] == ["alan_turing"]

    out = tmp_path / "res" / "hall.csv"
    assert main(["--api", url, "export-csv", "--session", session, "--out", str(out), "--close"]) == 0
    assert "alan_turing" in out.read_text() and service.get_session(session).status == "closed"
    # every change the seeder made is in the audit log under its token's name
    entries = service.privacy.audit.entries()
    changes = [e for e in entries if e["action"] == "http_change"]
    assert changes and {e["actor"] for e in changes} == {"token:seeder"}
    assert {"POST /api/students", "POST /api/classrooms"} <= {f"{e['method']} {e['path']}" for e in changes}
