"""upload_to_all_ec2.sh with fake ssh/scp: what is copied where, dry run, no credentials."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from .fakes import REPO, calls, install_fakes, run_script

INVENTORY = """
[all]
user = ec2-user
key = ~/.ssh/test.pem
remote_dir = /srv/rollcall

[cloud]
hosts = 198.51.100.1
private_address = 10.0.0.1
rekognition = aws

[edge]
hosts = 198.51.100.2
private_address = 10.0.0.2
models_dir = {models}
user = ubuntu

[iot]
hosts = 198.51.100.3 198.51.100.4
media_dir = {media}
ssh_port = 2222
"""


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    env = install_fakes(tmp_path)
    env["ROLLCALL_DEPLOY_KEYS_DIR"] = str(tmp_path / "keys")  # never the repository's deploy/keys
    models = tmp_path / "models"
    models.mkdir()
    (models / "people.onnx").write_bytes(b"onnx")
    (models / "face_detection_yunet_2023mar.onnx").write_bytes(b"onnx")
    (models / "people.pt").write_bytes(b"torch weights, not uploaded")
    media = tmp_path / "media"
    media.mkdir()
    (media / "room.gif").write_bytes(b"GIF89a")
    (media / "notes.txt").write_text("not media")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(INVENTORY.format(models=models, media=media))
    extra = tmp_path / "inventory.env"
    extra.write_text("ROLLCALL_IOT_FPS=3\nROLLCALL_IOT_MEDIA_FILE=room.gif\nROLLCALL_EDGE_PERSON_MODEL=people.onnx\n"
                     "AWS_SECRET_ACCESS_KEY=abc123secret\nexport AWS_ACCESS_KEY_ID=AKIAX\n# comment\n")
    return env, inventory, extra


def _bundle(tmp_path: Path, host: str, tier: str) -> dict[str, bytes]:
    path = tmp_path / "uploads" / f"{host}__srv_rollcall_rollcall-{tier}.tgz"
    with tarfile.open(path) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_deploys_each_tier_with_only_what_it_needs(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(extra)], env)
    assert result.returncode == 0, result.stderr
    recorded = calls(tmp_path)
    hosts = [c[-1].split("@")[1].split(":")[0] if c[0] == "scp" else c[-2].split("@")[1] for c in recorded]
    # cloud first, then edge, then both camera hosts; 4 calls each (mkdir, scp, unpack+install, start)
    assert hosts == ["198.51.100.1"] * 4 + ["198.51.100.2"] * 4 + ["198.51.100.3"] * 4 + ["198.51.100.4"] * 4
    assert [c[0] for c in recorded[:4]] == ["ssh", "scp", "ssh", "ssh"]
    assert "install_docker.sh" in recorded[2][-1] and "start_tier.sh cloud" in recorded[3][-1]
    assert recorded[4][-2] == "ubuntu@198.51.100.2"  # per-tier user overrides [all]
    assert "-i" in recorded[0] and recorded[0][recorded[0].index("-i") + 1].endswith("/home/.ssh/test.pem")
    assert recorded[8][recorded[8].index("-p") + 1] == "2222"
    assert recorded[9][recorded[9].index("-P") + 1] == "2222"

    cloud = _bundle(tmp_path, "198.51.100.1", "cloud")
    edge = _bundle(tmp_path, "198.51.100.2", "edge")
    iot = _bundle(tmp_path, "198.51.100.3", "iot")
    assert {"docker-compose.cloud.yml", "docker-compose.aws.yml", "src/cloud/__init__.py",
            "src/rekognition_local/__init__.py", "src/demo_seed/__init__.py", "src/common/protocol.py",
            "docker/cloud.Dockerfile", "deploy/remote/start_tier.sh", "pyproject.toml"} <= set(cloud)
    assert not any(n.startswith(("src/edge/", "src/iot/", "models/")) for n in cloud)
    assert {"models/people.onnx", "src/edge/__init__.py", "docker-compose.edge.yml"} <= set(edge)
    assert "models/people.pt" not in edge and not any(n.startswith(("src/cloud/", "src/iot/")) for n in edge)
    assert {"media/room.gif", "src/iot/__init__.py", "docker-compose.iot.yml"} <= set(iot)
    assert "media/notes.txt" not in iot
    for bundle in (cloud, edge, iot):
        assert not any(n.startswith(("tests/", ".git/", ".venv")) or "__pycache__" in n for n in bundle)

    # peer addresses from the inventory, ROLLCALL_* extras, never AWS credentials
    assert b"ROLLCALL_REKOGNITION_MODE=aws" in cloud[".env"]
    assert b"ROLLCALL_EDGE_CLOUD_ADDRESS=tcp://10.0.0.1:5556" in edge[".env"]
    assert b"ROLLCALL_IOT_EDGE_ADDRESS=tcp://10.0.0.2:5555" in iot[".env"]
    assert b"ROLLCALL_IOT_FPS=3" in iot[".env"]
    for bundle in (cloud, edge, iot):
        blob = b"\n".join(bundle.values())
        assert b"abc123secret" not in blob and b"AKIAX" not in blob
        assert not any(Path(n).name in ("credentials", "inventory.ini", "inventory.env") for n in bundle)
    assert "not a ROLLCALL_* setting, not uploaded" in result.stderr


def test_each_host_gets_only_its_own_curve_key(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    """Issue 13: the keys are created before the upload and each host ships only its own secret:
    the cloud's, the edge's, one camera's per camera host (bound to its id and classroom)."""
    import json

    env, inventory, extra = setup
    extra.write_text(extra.read_text() + "ROLLCALL_IOT_CLASSROOM_ID=room-7\nROLLCALL_IOT_CAMERA_ID=ignored\n")
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(extra)], env)
    assert result.returncode == 0, result.stderr
    assert "camera ids come from [iot] camera_ids" in result.stderr
    registry = json.loads((tmp_path / "keys" / "registry.json").read_text())
    assert {c: (v["classroom_id"], v["edge"]) for c, v in registry["cameras"].items()} == {
        "cam-1": ("room-7", "edge-1"), "cam-2": ("room-7", "edge-1")}
    secrets = {
        host: sorted(n for n in _bundle(tmp_path, host, tier) if n.endswith(".key_secret"))
        for host, tier in [("198.51.100.1", "cloud"), ("198.51.100.2", "edge"), ("198.51.100.3", "iot"),
                           ("198.51.100.4", "iot")]
    }
    assert secrets == {"198.51.100.1": ["keys/cloud/cloud.key_secret"], "198.51.100.2": ["keys/edges/edge-1.key_secret"],
                       "198.51.100.3": ["keys/cameras/cam-1.key_secret"], "198.51.100.4": ["keys/cameras/cam-2.key_secret"]}
    iot = _bundle(tmp_path, "198.51.100.4", "iot")
    assert b"ROLLCALL_IOT_CAMERA_ID=cam-2" in iot[".env"] and b"ignored" not in iot[".env"]
    camera_registry = json.loads(iot["keys/registry.json"])
    assert set(camera_registry["cameras"]) == {"cam-2"} and "public_key" not in camera_registry["cloud"]
    edge_registry = json.loads(_bundle(tmp_path, "198.51.100.2", "edge")["keys/registry.json"])
    assert set(edge_registry["cameras"]) == {"cam-1", "cam-2"} and edge_registry["cloud"]["public_key"]
    before = (tmp_path / "keys" / "cameras" / "cam-1.key_secret").read_bytes()
    assert run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(extra), "--tier", "iot"],
                      env).returncode == 0
    assert (tmp_path / "keys" / "cameras" / "cam-1.key_secret").read_bytes() == before  # kept


def test_dry_run_prints_every_remote_command_and_runs_none(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(extra), "--dry-run",
                                                 "--tier", "edge"], env)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == []
    lines = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert [line.split()[1] for line in lines] == ["ssh", "scp", "ssh", "ssh"]
    assert all("ubuntu@198.51.100.2" in line for line in lines)
    assert "start_tier.sh\\ edge" in lines[-1] or "start_tier.sh edge" in lines[-1]
    assert "planned (dry run)" in result.stderr


def test_second_run_is_the_same(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    args = ["--inventory", str(inventory), "--env", str(extra), "--tier", "iot", "--no-start"]
    assert run_script("upload_to_all_ec2.sh", args, env).returncode == 0
    first = calls(tmp_path)
    assert run_script("upload_to_all_ec2.sh", args, env).returncode == 0
    second = calls(tmp_path)[len(first):]
    strip = lambda cs: [[a for a in c if "rollcall-upload." not in a] for c in cs]  # noqa: E731 (temp dir differs)
    assert strip(first) == strip(second) and len(first) == 6  # 2 hosts x (mkdir, scp, unpack); no start


def test_refuses_credential_files_and_bad_input(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    media = Path(inventory.read_text().split("media_dir = ")[1].split()[0])
    (media / "id_rsa.png").write_bytes(b"key")  # looks like media, named like a key
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--tier", "iot"], env)
    assert result.returncode != 0 and "refusing to upload credential-like files" in result.stderr
    assert calls(tmp_path) == []
    missing = run_script("upload_to_all_ec2.sh", ["--inventory", str(tmp_path / "nope.ini")], env)
    assert missing.returncode != 0 and "not found" in missing.stderr
    bad_tier = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--tier", "db"], env)
    assert bad_tier.returncode != 0 and "unknown tier db" in bad_tier.stderr


def test_shell_scripts_parse() -> None:
    for script in ("upload_to_all_ec2.sh", "collect_logs.sh", "deploy/remote/install_docker.sh",
                   "deploy/remote/start_tier.sh", "deploy/lib.sh", "scripts/compose_ci.sh",
                   "scripts/recorded_lecture.sh", "scripts/up.sh", "scripts/demo_keys.sh"):
        subprocess.run(["bash", "-n", str(REPO / script)], check=True, timeout=30)


def test_missing_peer_address_or_files_stop_before_any_upload(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    text = inventory.read_text()
    no_cloud = tmp_path / "no-cloud.ini"
    no_cloud.write_text(text.replace("hosts = 198.51.100.1\nprivate_address = 10.0.0.1\n", ""))
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(no_cloud), "--env", str(extra), "--tier", "edge"], env)
    assert result.returncode != 0 and "no [cloud] hosts/private_address" in result.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    # the file the camera replays must be uploaded with it
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(empty), "--tier", "iot"], env)
    assert result.returncode != 0 and "media/classroom.gif is missing" in result.stderr
    # the edge's detector must be among the uploaded models
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(inventory), "--env", str(empty), "--tier", "edge"], env)
    assert result.returncode != 0 and "models/yolov8s-people-fall.onnx is missing" in result.stderr
    assert calls(tmp_path) == []


def test_key_path_with_spaces_stays_one_argument(setup: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, inventory, extra = setup
    spaced = tmp_path / "spaced.ini"
    spaced.write_text(inventory.read_text().replace("key = ~/.ssh/test.pem", "key = ~/my keys/ec2 key.pem"))
    result = run_script("upload_to_all_ec2.sh", ["--inventory", str(spaced), "--env", str(extra), "--tier", "edge"], env)
    assert result.returncode == 0, result.stderr
    for call in calls(tmp_path):
        assert call[call.index("-i") + 1] == f"{env['HOME']}/my keys/ec2 key.pem"
