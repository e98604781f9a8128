"""scripts/up.sh with a fake docker and a fake prepare_models.sh: checks before start, model fallback."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from .fakes import REPO

FAKE_DOCKER = """#!/bin/sh
echo "docker $* MODEL=${ROLLCALL_EDGE_PERSON_MODEL:-} CLASSES=${ROLLCALL_EDGE_PERSON_CLASSES:-}" >>"$FAKE_LOG"
"""


def _layout(tmp_path: Path, models: list[str]) -> tuple[Path, dict[str, str]]:
    """A repository copy with up.sh, a prepare_models.sh that writes ``models``, demo assets, fake docker."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "up.sh", repo / "scripts" / "up.sh")
    shutil.copy(REPO / "scripts" / "local_secret.sh", repo / "scripts" / "local_secret.sh")
    shutil.copy(REPO / "scripts" / "demo_keys.sh", repo / "scripts" / "demo_keys.sh")
    touch = " ".join(f'"$ROLLCALL_EDGE_MODELS_DIR/{m}"' for m in models)
    (repo / "scripts" / "prepare_models.sh").write_text(f'#!/bin/sh\nmkdir -p "$ROLLCALL_EDGE_MODELS_DIR"\ntouch {touch}\n')
    assets = tmp_path / "shared" / "assets"
    (assets / "faces" / "enroll" / "ada").mkdir(parents=True)
    (assets / "faces" / "manifest.csv").write_text("file,expected_person_ids\n")
    (assets / "video").mkdir()
    (assets / "video" / "classroom.gif").write_bytes(b"GIF89a")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    for script in (bin_dir / "docker", repo / "scripts" / "up.sh", repo / "scripts" / "prepare_models.sh",
                   repo / "scripts" / "local_secret.sh", repo / "scripts" / "demo_keys.sh"):
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    # rollcall-keys from this venv (scripts/demo_keys.sh finds it on PATH)
    env.update(PATH=f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}", FAKE_LOG=str(tmp_path / "docker.log"))
    return repo, env


def _up(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(repo / "scripts" / "up.sh"), *args], env=env, capture_output=True, text=True, timeout=60)


def test_mirror_models_are_used_as_compose_defaults(tmp_path: Path) -> None:
    repo, env = _layout(tmp_path, ["yolov8s-people-fall.onnx", "face_detection_yunet_2023mar.onnx"])
    result = _up(repo, env, "-d")
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "docker.log").read_text().splitlines()
    assert log[-1] == "docker compose up --build -d MODEL= CLASSES="
    assert (repo / "models" / "yolov8s-people-fall.onnx").is_file()


def test_without_the_mirror_the_edge_gets_the_coco_model(tmp_path: Path) -> None:
    repo, env = _layout(tmp_path, ["yolov8n.onnx", "face_detection_yunet_2023mar.onnx"])
    result = _up(repo, env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "docker.log").read_text().splitlines()[-1].endswith("MODEL=yolov8n.onnx CLASSES=person")
    # a choice in .env is respected
    (repo / ".env").write_text("ROLLCALL_EDGE_PERSON_MODEL=mine.onnx\n")
    assert _up(repo, env).returncode == 0
    assert (tmp_path / "docker.log").read_text().splitlines()[-1].endswith("MODEL= CLASSES=")


def test_missing_demo_assets_fail_before_docker(tmp_path: Path) -> None:
    repo, env = _layout(tmp_path, ["yolov8s-people-fall.onnx"])
    env["ROLLCALL_ASSETS_DIR"] = str(tmp_path / "nowhere")
    result = _up(repo, env)
    assert result.returncode != 0 and "no demo faces in" in result.stderr
    assert not (tmp_path / "docker.log").exists()
    env["ROLLCALL_ASSETS_DIR"] = str(tmp_path / "shared" / "assets")
    env["ROLLCALL_DEMO_VIDEO"] = "lecture.mp4"
    result = _up(repo, env)
    assert result.returncode != 0 and "video/lecture.mp4" in result.stderr


def test_the_local_rekognition_secret_is_generated_once_into_dot_env(tmp_path: Path) -> None:
    """Issue 13: the local Rekognition service verifies signatures; compose takes the pair's secret
    from .env, where up.sh writes a random one the first time (never a value from the repository)."""
    repo, env = _layout(tmp_path, ["yolov8s-people-fall.onnx", "face_detection_yunet_2023mar.onnx"])
    assert _up(repo, env, "-d").returncode == 0
    lines = [x for x in (repo / ".env").read_text().splitlines() if x.startswith("ROLLCALL_LOCAL_AWS_SECRET=")]
    assert len(lines) == 1 and len(lines[0].split("=", 1)[1]) == 48
    assert _up(repo, env, "-d").returncode == 0  # kept, not regenerated
    assert [x for x in (repo / ".env").read_text().splitlines() if x.startswith("ROLLCALL_LOCAL_AWS_SECRET=")] == lines
    other = tmp_path / "other"
    shutil.copytree(repo, other, ignore=shutil.ignore_patterns(".env"))
    assert _up(other, env, "-d").returncode == 0
    assert (other / ".env").read_text() != (repo / ".env").read_text()  # random per checkout


def test_curve_keys_are_created_before_compose_up_and_kept(tmp_path: Path) -> None:
    """Issue 13: the demo runs CurveZMQ. up.sh creates the keys (git-ignored ./keys) before
    `docker compose up`: the cloud, the edge and every demo camera bound to its classroom."""
    import json

    repo, env = _layout(tmp_path, ["yolov8s-people-fall.onnx", "face_detection_yunet_2023mar.onnx"])
    env["ROLLCALL_LOAD_CAMERAS"] = "2"
    assert _up(repo, env, "-d").returncode == 0
    registry = json.loads((repo / "keys" / "registry.json").read_text())
    assert set(registry["edges"]) == {"edge"} and registry["cloud"]["public_key"]
    cameras = {c: (v["classroom_id"], v["edge"]) for c, v in registry["cameras"].items()}
    assert cameras == {"cam-students": ("demo-101", "edge"), "cam-classroom": ("demo-101", "edge"),
                       "cam-load-1": ("demo-101", "edge"), "cam-load-2": ("demo-101", "edge"),
                       "cam-lecture": ("lecture-hall", "edge")}
    secret = repo / "keys" / "cameras" / "cam-students.key_secret"
    before = secret.read_bytes()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (repo / "keys" / "bundles" / "edge-edge" / "edges" / "edge.key_secret").is_file()
    assert _up(repo, env, "-d").returncode == 0
    assert secret.read_bytes() == before  # kept across runs
