import json
import os
import signal
import subprocess
import sys
import time

import pytest

from common.keys_cli import generate
from iot.cli import main
from tests.conftest import require_asset, wait_until
from tests.iot.helpers import VIDEO, unused_tcp_address


def iot_env(tmp_path, **extra) -> dict[str, str]:
    """The environment of a rollcall-iot subprocess: CurveZMQ keys of cameras cam-1 and door (room-1)."""
    generate(tmp_path / "keys", [("cam-1", "room-1", "edge-1"), ("door", "room-1", "edge-1")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    env.update(
        ROLLCALL_LOG_DIR=str(tmp_path / "logs"), ROLLCALL_INSTANCE_ID="iot-test", ROLLCALL_METRICS_INTERVAL_S="60",
        ROLLCALL_IOT_KEYS_DIR=str(tmp_path / "keys" / "bundles" / "iot-edge-1"),
    )
    env.update(extra)
    return env


def test_sigterm_stops_cleanly_with_a_final_metrics_line(tmp_path):
    video = require_asset(VIDEO)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iot.cli",
            "--source",
            str(video),
            "--fps",
            "4",
            "--camera-id",
            "door",
            "--edge-address",
            unused_tcp_address(),
        ],
        env=iot_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # wait until frames flow (dropped: nobody listens) - at least the 4 checked below - then ask it to stop
        log_file = tmp_path / "logs" / "iot-iot-test.jsonl"
        wait_until(
            lambda: (log_file.read_text() if log_file.exists() else "").count('"frame_dropped"') >= 4,
            timeout=20,
            interval=0.1,
            message="4 dropped frames not logged",
        )
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - sent_at < 5
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "shutdown_requested" in names and names[-1] == "iot_stopped"
    final_metrics = [e for e in events if e["event"] == "metrics"][-1]
    door = final_metrics["cameras"]["door"]
    assert door["captured"] > door["dropped"] >= 4 and door["sent"] == 0
    assert set(door) >= {"captured", "skipped_rate", "skipped_motion", "sent", "dropped", "read_errors"}
    dropped = [e for e in events if e["event"] == "frame_dropped"]
    assert all(e["trace_id"] and e["camera_id"] == "door" and "captured" in e["ts"] for e in dropped)
    assert events[-1]["totals"]["dropped"] == door["dropped"]


def test_bad_env_value_exits_2_naming_the_variable(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "iot.cli"],
        check=False,
        env=iot_env(tmp_path, ROLLCALL_IOT_FPS="lots"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "ROLLCALL_IOT_FPS" in proc.stderr and "lots" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_flag_errors_name_the_flag(capsys, monkeypatch):
    monkeypatch.delenv("ROLLCALL_IOT_FPS", raising=False)
    assert main(["--source", "/definitely/missing.mp4", "--jpeg-quality", "0"]) == 2
    err = capsys.readouterr().err
    assert "--source (ROLLCALL_IOT_SOURCE)" in err and "no such file" in err
    assert "--jpeg-quality (ROLLCALL_IOT_JPEG_QUALITY)" in err


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--source",
        "--camera-id",
        "--classroom-id",
        "--fps",
        "--edge-address",
        "--no-loop",
        "--replicate",
        "--max-frames",
    ):
        assert flag in out


def test_flags_override_env(capsys, monkeypatch):
    monkeypatch.setenv("ROLLCALL_IOT_FPS", "3")
    monkeypatch.setenv("ROLLCALL_IOT_CAMERA_ID", "from-env")
    assert main(["--print-config", "--fps", "0.5", "--replicate", "2", "--loop"]) == 0
    cams = json.loads(capsys.readouterr().out)
    assert [(c["camera_id"], c["fps"], c["loop"]) for c in cams] == [
        ("from-env-1", 0.5, True),
        ("from-env-2", 0.5, True),
    ]


def test_without_keys_it_says_how_to_create_them_or_opt_out(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROLLCALL_IOT_KEYS_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("ROLLCALL_LOG_DIR", str(tmp_path / "logs"))
    assert main(["--source", str(require_asset(VIDEO))]) == 2
    err = capsys.readouterr().err
    assert "rollcall-keys generate" in err and "ROLLCALL_IOT_TRANSPORT=plaintext" in err
