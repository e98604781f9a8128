"""docker/healthcheck.py: the HEALTHCHECK of every image."""

from __future__ import annotations

import importlib.util
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("rollcall_healthcheck", REPO / "docker" / "healthcheck.py")
assert spec and spec.loader
healthcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(healthcheck)


def _env(tmp_path: Path) -> dict[str, str]:
    return {"ROLLCALL_LOG_DIR": str(tmp_path), "ROLLCALL_INSTANCE_ID": "edge-a", "ROLLCALL_METRICS_INTERVAL_S": "5"}


def test_log_freshness(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert "not written yet" in healthcheck.check_log("edge", None, env)
    path = tmp_path / "edge-edge-a.jsonl"
    path.write_text('{"event":"metrics"}\n')
    mtime = path.stat().st_mtime
    assert healthcheck.check_log("edge", None, env, now=mtime + 24) is None  # default 3*5+10 = 25 s
    assert "last written 26 s ago" in healthcheck.check_log("edge", None, env, now=mtime + 26)
    assert healthcheck.check_log("edge", 60, env, now=mtime + 59) is None


def test_ready_event_required(tmp_path: Path) -> None:
    env = _env(tmp_path)
    path = tmp_path / "edge-edge-a.jsonl"
    path.write_text('{"ts_ms":1,"event":"log_dir_unwritable"}\n')
    assert "no 'edge_started' event yet" in healthcheck.check_log("edge", None, env, ready_event="edge_started")
    path.write_text('{"ts_ms":1,"tier":"edge","event":"edge_started","bind":"tcp://*:5555"}\n')
    assert healthcheck.check_log("edge", None, env, ready_event="edge_started") is None
    # after a rotation the start event is in .1: still ready
    path.write_text('{"event":"metrics"}\n')
    Path(f"{path}.1").write_text("")
    assert healthcheck.check_log("edge", None, env, ready_event="edge_started") is None


def test_hostname_is_the_default_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(healthcheck.socket, "gethostname", lambda: "c0ffee")
    env = {"ROLLCALL_LOG_DIR": str(tmp_path)}
    assert healthcheck.log_file("iot", env) == tmp_path / "iot-c0ffee.jsonl"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_http_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert healthcheck.check_http(f"{base}/ok") is None
        assert "HTTP 503" in healthcheck.check_http(f"{base}/bad")
        assert healthcheck.main(["http", f"{base}/ok"]) == 0
        assert healthcheck.main(["http", f"{base}/bad"]) == 1
        assert "unhealthy" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
    assert healthcheck.check_http("http://127.0.0.1:9/") is not None
    assert healthcheck.main(["bogus"]) == 2


def test_main_log_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    (tmp_path / "iot-edge-a.jsonl").write_text('{"event":"cameras_started"}\n')
    assert healthcheck.main(["log", "iot"]) == 0
    assert healthcheck.main(["log", "iot", "-", "cameras_started"]) == 0
    assert healthcheck.main(["log", "iot", "-", "edge_started"]) == 1
    os.utime(tmp_path / "iot-edge-a.jsonl", (1, 1))
    assert healthcheck.main(["log", "iot", "30"]) == 1
