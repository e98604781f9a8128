"""The seeder against an in-memory API: what it creates, idempotence, bad photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from demo_seed.cli import main
from demo_seed.client import ApiClient, ApiError
from demo_seed.seed import discover_students, display_name

from .fake_api import FakeCloud


def _jpeg(path: Path, shade: int = 128, size: tuple[int, int] = (120, 160)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((size[0], size[1], 3), shade, dtype=np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), 30, (20, 40, 200), -1)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    path.write_bytes(buf.tobytes())


@pytest.fixture()
def faces(tmp_path: Path) -> Path:
    root = tmp_path / "faces"
    _jpeg(root / "enroll/ada_lovelace/1.jpg")
    _jpeg(root / "enroll/ada_lovelace/2.jpg", shade=90)
    _jpeg(root / "enroll/alan_turing/1.jpg")
    (root / "enroll/empty_folder").mkdir(parents=True)
    _jpeg(root / "probe/ada.jpg", size=(400, 300))
    _jpeg(root / "probe/both.jpg", size=(300, 500))
    _jpeg(root / "probe/ada_partial_face.jpg")
    _jpeg(root / "probe/stranger.jpg")
    _jpeg(root / "probe/grace.jpg")
    (root / "manifest.csv").write_text(
        "file,expected_person_ids\n"
        "enroll/ada_lovelace/1.jpg,ada_lovelace\n"
        "probe/ada.jpg,ada_lovelace\n"
        "probe/both.jpg,ada_lovelace;alan_turing\n"
        "probe/ada_partial_face.jpg,ada_lovelace\n"
        "probe/stranger.jpg,\n"
        "probe/grace.jpg,grace_hopper\n"
        "probe/missing.jpg,alan_turing\n"
    )
    return root


@pytest.fixture()
def env(faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    frames = tmp_path / "frames"
    monkeypatch.setenv("ROLLCALL_SEED_ENROLL_DIR", str(faces / "enroll"))
    monkeypatch.setenv("ROLLCALL_SEED_PROBE_DIR", str(faces / "probe"))
    monkeypatch.setenv("ROLLCALL_SEED_MANIFEST", str(faces / "manifest.csv"))
    monkeypatch.setenv("ROLLCALL_SEED_FRAMES_DIR", str(frames))
    monkeypatch.setenv("ROLLCALL_SEED_CLASSROOM_ID", "room-9")
    monkeypatch.setenv("ROLLCALL_SEED_WAIT_S", "5")
    monkeypatch.setenv("ROLLCALL_SEED_TOKEN", FakeCloud.TOKEN)
    monkeypatch.setenv("ROLLCALL_LOG_DIR", str(tmp_path / "logs"))
    return frames


def test_seed_creates_everything_once(env: Path) -> None:
    with FakeCloud() as cloud:
        assert main(["--api", cloud.url, "seed"]) == 0
        assert set(cloud.classrooms) == {"room-9"}
        assert cloud.students["alan_turing"]["name"] == "Alan Turing"
        assert cloud.faces == {"ada_lovelace": ["face-1", "face-2"], "alan_turing": ["face-1"]}
        assert [s["classroom_id"] for s in cloud.sessions.values()] == ["room-9"]
        frames = sorted(p.name for p in env.glob("*.jpg"))
        # enrolled-only probes + the unknown stranger; not the partial face, not grace (not enrolled)
        assert frames == ["000_ada.jpg", "001_both.jpg", "002_stranger.jpg"]
        image = cv2.imread(str(env / "001_both.jpg"))
        assert image.shape == (540, 960, 3)

        # A second run (compose restart) adds nothing and reuses the open session.
        assert main(["--api", cloud.url, "seed"]) == 0
        assert cloud.faces["ada_lovelace"] == ["face-1", "face-2"]
        assert len(cloud.sessions) == 1
        assert len(list(env.glob("*.jpg"))) == 3
    logs = list((env.parent / "logs").glob("seed-*.jsonl"))
    assert logs and '"event":"seed_done"' in logs[0].read_text()


def test_rejected_photos_are_reported_and_fail_the_seed(env: Path, faces: Path) -> None:
    (faces / "enroll/alan_turing/1.jpg").write_bytes(b"NOFACE not a face")
    with FakeCloud() as cloud:
        assert main(["--api", cloud.url, "seed"]) == 1
        assert cloud.faces["alan_turing"] == []
        assert cloud.faces["ada_lovelace"] == ["face-1", "face-2"]


def test_unreachable_api_fails_clearly(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLCALL_SEED_WAIT_S", "0.1")
    assert main(["--api", "http://127.0.0.1:9", "seed"]) == 1
    assert "not healthy" in capsys.readouterr().err


def test_missing_enrol_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        discover_students(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        discover_students(tmp_path / "empty")


def test_display_name() -> None:
    assert display_name("guido_van_rossum") == "Guido Van Rossum"
    assert display_name("kit-harington") == "Kit Harington"


def test_client_retries_unavailable_then_gives_up() -> None:
    sleeps: list[float] = []
    with FakeCloud() as cloud:
        client = ApiClient(cloud.url, retries=2, retry_delay_s=0.5, sleep=sleeps.append, token=FakeCloud.TOKEN)
        cloud.fail_next = [503, 503]
        assert client.json("GET", "/api/health") == {"status": "ok"}
        assert sleeps == [0.5, 1.0]
        cloud.fail_next = [503, 503, 503]
        with pytest.raises(ApiError) as err:
            client.json("GET", "/api/health")
        assert err.value.status == 503 and err.value.code == "unavailable"
        cloud.fail_next = [422]
        with pytest.raises(ApiError) as err:  # client errors are not retried
            client.json("GET", "/api/health")
        assert err.value.status == 422 and cloud.fail_next == []
