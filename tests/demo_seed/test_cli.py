"""Script helpers of ``python -m demo_seed``: sessions, waiting, CSV export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo_seed.cli import main, poll
from demo_seed.client import ApiError

from .fake_api import FakeCloud


@pytest.fixture(autouse=True)
def _quiet_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLCALL_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("ROLLCALL_SEED_WAIT_S", "5")
    monkeypatch.setenv("ROLLCALL_SEED_TOKEN", FakeCloud.TOKEN)


def test_open_session_creates_classroom_and_new_session(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeCloud() as cloud:
        open_session = ["--api", cloud.url, "open-session", "--classroom", "hall"]
        assert main(open_session) == 0
        first = json.loads(capsys.readouterr().out)
        assert "hall" in cloud.classrooms
        # one open session per classroom (the API answers 409): say so, do not guess
        assert main(open_session) == 1
        assert "HTTP 409" in capsys.readouterr().err
        assert main(open_session + ["--reuse"]) == 0
        assert json.loads(capsys.readouterr().out)["session_id"] == first["session_id"]
        # an interrupted recorded lecture left its session open: --close-open closes it first
        assert main(open_session + ["--close-open"]) == 0
        captured = capsys.readouterr()
        second = json.loads(captured.out)
        assert second["session_id"] != first["session_id"] and f"closed session {first['session_id']}" in captured.err
        assert cloud.sessions[first["session_id"]]["status"] == "closed"
        assert cloud.sessions[second["session_id"]]["status"] == "open"


def test_wait_attendance_times_out_then_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeCloud() as cloud:
        cloud.handle("POST", "/api/classrooms", {}, b'{"classroom_id": "r1", "name": "R1"}', "application/json")
        cloud.handle("POST", "/api/sessions", {}, b'{"classroom_id": "r1"}', "application/json")
        args = ["--api", cloud.url, "wait-attendance", "--session", "s1", "--timeout", "0.3", "--interval", "0.1"]
        assert main(args) == 1
        cloud.records["s1"].append({"student_id": "obama", "name": "Obama"})
        assert main(args + ["--student", "biden"]) == 1
        assert main(args + ["--student", "obama"]) == 0
        assert json.loads(capsys.readouterr().out)["records"][0]["student_id"] == "obama"


def test_wait_eos_respects_since(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeCloud() as cloud:
        cloud.streams_ended["cam-x"] = {"ended_ms": 1000, "classroom_id": "r1"}
        base = ["--api", cloud.url, "wait-eos", "--camera", "cam-x", "--timeout", "0.3", "--interval", "0.1"]
        assert main(base + ["--since-ms", "2000"]) == 1
        assert main(base + ["--since-ms", "500"]) == 0
        assert json.loads(capsys.readouterr().out)["ended_ms"] == 1000
        assert main(["--api", cloud.url, "wait-eos", "--camera", "other", "--timeout", "0.2", "--interval", "0.1"]) == 1


def test_export_csv_closes_and_writes(tmp_path: Path) -> None:
    with FakeCloud() as cloud:
        cloud.handle("POST", "/api/classrooms", {}, b'{"classroom_id": "r1", "name": "R1"}', "application/json")
        cloud.handle("POST", "/api/sessions", {}, b'{"classroom_id": "r1"}', "application/json")
        cloud.records["s1"].append({"student_id": "obama", "name": "Obama"})
        out = tmp_path / "res" / "a.csv"
        assert main(["--api", cloud.url, "export-csv", "--session", "s1", "--out", str(out), "--close"]) == 0
        assert out.read_text() == "student_id,name\nobama,Obama\n"
        assert cloud.sessions["s1"]["status"] == "closed"
        # Closing an already closed session is fine.
        assert main(["--api", cloud.url, "export-csv", "--session", "s1", "--out", str(out), "--close"]) == 0
        assert main(["--api", cloud.url, "export-csv", "--session", "nope", "--out", str(out)]) == 1


def test_poll_treats_api_errors_as_not_yet() -> None:
    calls = []
    now = [0.0]

    def check() -> str | None:
        calls.append(1)
        if len(calls) == 1:
            raise ApiError(0, "unreachable", "down")
        return "ok" if len(calls) >= 3 else None

    def sleep(s: float) -> None:
        now[0] += s

    assert poll(check, timeout_s=10, interval_s=1, sleep=sleep, clock=lambda: now[0]) == "ok"
    assert len(calls) == 3
    assert poll(lambda: None, timeout_s=2, interval_s=1, sleep=sleep, clock=lambda: now[0]) is None
