"""scripts/secrets_scan.py (issue 13 item 8): the lint secrets scan fails on a planted fake key, passes
on audited false positives, and the image mode (--dir) does the same for an extracted filesystem."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCAN = REPO / "scripts" / "secrets_scan.py"
# Built at run time so that this file holds no key-shaped string: fake, never valid anywhere.
FAKE_AWS_KEY = "AKIA" + "Z7Q3" * 4
FAKE_PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END " + "RSA PRIVATE KEY-----\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCAN), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "ok.py").write_text('GREETING = "hello"\n')
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def track(repo: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)


def test_repo_scan_fails_on_planted_key_and_passes_once_audited(tmp_path: Path) -> None:
    repo = git_repo(tmp_path)
    track(repo)
    assert run(repo).returncode == 0
    (repo / "src" / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n')
    track(repo)
    failed = run(repo)
    assert failed.returncode == 1, failed.stderr
    assert "AWS Access Key in src/settings.py:1" in failed.stderr
    assert FAKE_AWS_KEY not in failed.stderr + failed.stdout  # the value is never printed
    # audit it as a false positive in the baseline: the scan passes, also after the line moves
    baseline = json.loads(subprocess.run([str(Path(sys.executable).with_name("detect-secrets")), "scan"],
                                         cwd=repo, capture_output=True, text=True, check=True).stdout)
    for found in baseline["results"].values():
        for finding in found:
            finding["is_secret"] = False
    (repo / ".secrets.baseline").write_text(json.dumps(baseline))
    (repo / "src" / "settings.py").write_text(f'\n\nAWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n')
    track(repo)
    assert run(repo).returncode == 0, run(repo).stderr


def test_dir_scan_of_an_extracted_image_fails_on_a_private_key(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "conf").mkdir(parents=True)
    (app / "conf" / "app.txt").write_text("nothing to see\n")
    assert run(tmp_path, "--dir", str(app), "--baseline", str(tmp_path / "none")).returncode == 0
    (app / "conf" / "id_rsa").write_text(FAKE_PRIVATE_KEY)
    failed = run(tmp_path, "--dir", str(app), "--baseline", str(tmp_path / "none"))
    assert failed.returncode == 1 and "Private Key" in failed.stderr, failed.stderr


def test_the_repository_baseline_is_audited() -> None:
    """Every finding in the committed baseline was audited as a false positive."""
    results = json.loads((REPO / ".secrets.baseline").read_text())["results"]
    assert results, "the baseline lists the audited false positives"
    assert all(f.get("is_secret") is False for found in results.values() for f in found)
