"""scripts/recorded_lecture.sh with a fake docker: order of the steps, CSV, clean-up on failure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .fakes import REPO, calls, install_fakes


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The script from a copy of the repository layout, so res/ is written under tmp_path."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "scripts" / "recorded_lecture.sh", repo / "scripts" / "recorded_lecture.sh")
    shutil.copy(REPO / "scripts" / "demo_keys.sh", repo / "scripts" / "demo_keys.sh")  # rollcall-keys on PATH
    return subprocess.run(["bash", str(repo / "scripts" / "recorded_lecture.sh"), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def _video(tmp_path: Path) -> Path:
    video = tmp_path / "media" / "lecture one.mp4"
    video.parent.mkdir(exist_ok=True)
    video.write_bytes(b"not really a video")
    return video


def test_students_are_enrolled_before_the_camera_and_csv_is_written(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    result = _run(tmp_path, env, str(_video(tmp_path)), "--classroom", "hall-2", "--fps", "1")
    assert result.returncode == 0, result.stderr
    steps = [c for c in calls(tmp_path) if c[0] == "docker"]
    joined = [" ".join(c) for c in steps]
    up = next(i for i, c in enumerate(joined) if " up -d " in c)
    seed = next(i for i, c in enumerate(joined) if c.endswith("http://cloud:8080 seed"))
    camera = next(i for i, c in enumerate(joined) if "camera-lecture" in c)
    assert "seed" not in steps[up]  # a detached seed would race the camera
    assert "--close-open" in next(c for c in steps if "open-session" in c)
    assert up < seed < camera < next(i for i, c in enumerate(joined) if "wait-eos" in c)
    assert "--close" in steps[-2] and steps[-1][-1] == "stop"  # CSV, then the stack is stopped
    import json  # the lecture camera's CurveZMQ key is bound to the lecture's classroom before the stack starts

    registry = json.loads((tmp_path / "repo" / "keys" / "registry.json").read_text())
    assert registry["cameras"]["cam-lecture"]["classroom_id"] == "hall-2"
    csv = list((tmp_path / "repo" / "res").glob("attendance-hall-2-*.csv"))
    assert len(csv) == 1 and csv[0].read_text() == "student_id,name\nobama,Barack Obama\n"
    assert not list((tmp_path / "repo" / "res").glob("*.tmp"))


def test_failure_stops_the_stack_and_leaves_no_csv(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    env["FAKE_FAIL"] = "camera-lecture"
    result = _run(tmp_path, env, str(_video(tmp_path)))
    assert result.returncode != 0 and "FAILED" in result.stderr
    assert calls(tmp_path)[-1][-1] == "stop"
    assert not (tmp_path / "repo" / "res").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    env["FAKE_LOG"] = str(kept / "calls.jsonl")
    assert _run(tmp_path, env, str(_video(tmp_path)), "--keep-running").returncode != 0
    assert all(c[-1] != "stop" for c in calls(kept))


def test_arguments() -> None:
    bad = subprocess.run(["bash", str(REPO / "scripts" / "recorded_lecture.sh"), "/no/such/file.mp4"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "no such file" in bad.stderr
    usage = subprocess.run(["bash", str(REPO / "scripts" / "recorded_lecture.sh"), "--help"],
                           capture_output=True, text=True, timeout=30)
    assert usage.returncode == 0 and "--keep-running" in usage.stdout and "set -e" not in usage.stdout
