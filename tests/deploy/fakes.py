"""Fake ssh / scp / docker executables that record their arguments (for shell-script tests)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_RECORDER = r'''#!/usr/bin/env python3
import json, os, shutil, sys
name = os.path.basename(sys.argv[0])
log = os.environ["FAKE_LOG"]
with open(log, "a") as fh:
    fh.write(json.dumps([name] + sys.argv[1:]) + "\n")
if name == "scp":
    # keep a copy of every uploaded file so tests can look inside
    src, dest = sys.argv[-2], sys.argv[-1]
    keep = os.path.join(os.environ["FAKE_UPLOADS"], dest.split("@", 1)[-1].replace("/", "_").replace(":", "_"))
    shutil.copy(src, keep)
elif name == "ssh" and "docker run" in sys.argv[-1]:
    # a host's logs volume, as a tar stream on stdout
    tier = sys.argv[-1].split("rollcall/")[1].split(":")[0]
    with open(os.path.join(os.environ["FAKE_TARS"], tier + ".tar"), "rb") as fh:
        sys.stdout.buffer.write(fh.read())
elif name == "docker":
    args = sys.argv[1:]
    failing = os.environ.get("FAKE_FAIL")
    if failing and failing in args:
        sys.exit(1)
    if "open-session" in args:
        print(json.dumps({"session_id": "sess-1", "classroom_id": args[args.index("--classroom") + 1]}))
    elif "export-csv" in args:
        print("student_id,name")
        print("obama,Barack Obama")
    elif args[:2] == ["compose", "ps"] and "-q" in args:
        print("\n".join(os.environ.get("FAKE_CIDS", "").split()))
    elif args[0] == "cp":
        with open(os.path.join(os.environ["FAKE_TARS"], "local.tar"), "rb") as fh:
            sys.stdout.buffer.write(fh.read())
'''


def install_fakes(tmp_path: Path) -> dict[str, str]:
    """A PATH with fake ssh, scp, docker first; returns the env for subprocess."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    for name in ("ssh", "scp", "docker", "rsync"):
        path = bin_dir / name
        path.write_text(_RECORDER)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "tars").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLLCALL_"))}
    env.update(
        PATH=f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",  # rollcall-keys from this venv
        FAKE_LOG=str(tmp_path / "calls.jsonl"),
        FAKE_UPLOADS=str(tmp_path / "uploads"),
        FAKE_TARS=str(tmp_path / "tars"),
        HOME=str(tmp_path / "home"),
    )
    return env


def calls(tmp_path: Path) -> list[list[str]]:
    """Every recorded call, in order."""
    path = tmp_path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_script(script: str, args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a repository script with ``env``; bounded in time."""
    return subprocess.run([str(REPO / script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def make_tar(path: Path, files: dict[str, str], top: str = ".") -> None:
    """A tar file holding ``files`` (name -> text) under ``top``."""
    stage = path.parent / (path.stem + "-stage")
    root = stage / top
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    subprocess.run(["tar", "-C", str(stage), "-cf", str(path), top], check=True)
    shutil.rmtree(stage)
