"""rollcall-keys: key pairs, the registry binding them, per-host bundles, idempotence, errors."""

import json
import os
import stat

import pytest

from common.keyring import Registry, read_secret, secret_path
from common.keys_cli import main


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_keys_registry_and_bundles(tmp_path, capsys):
    keys = tmp_path / "keys"
    assert main(["generate", "--dir", str(keys), "--camera", "cam-1=room-1@edge-a",
                 "--camera", "cam-2=room-2@edge-b", "--camera", "cam-3=room-1"]) == 0
    registry = json.loads((keys / "registry.json").read_text())
    assert set(registry["edges"]) == {"edge-a", "edge-b", "edge-1"}  # edge-1: the default edge
    assert registry["cameras"]["cam-1"] == {"classroom_id": "room-1", "edge": "edge-a",
                                            "public_key": registry["cameras"]["cam-1"]["public_key"]}
    assert registry["cameras"]["cam-3"]["edge"] == "edge-1"
    assert "secret" not in (keys / "registry.json").read_text()  # public keys only
    for kind, name in [("cloud", "cloud"), ("edges", "edge-a"), ("cameras", "cam-2")]:
        path = secret_path(keys, kind, name)
        assert mode(path) == 0o600
        public, secret = read_secret(path)
        assert len(public) == len(secret) == 40
    assert read_secret(secret_path(keys, "cameras", "cam-1"))[0].decode() == registry["cameras"]["cam-1"]["public_key"]
    assert mode(keys) == 0o700

    bundles = keys / "bundles"

    def files(b):
        return sorted(str(p.relative_to(bundles / b)) for p in (bundles / b).rglob("*") if p.is_file())

    assert files("cloud") == ["cloud/cloud.key_secret", "registry.json"]
    assert files("edge-edge-a") == ["edges/edge-a.key_secret", "registry.json"]
    assert files("camera-cam-1") == ["cameras/cam-1.key_secret", "registry.json"]
    assert files("iot-edge-1") == ["cameras/cam-3.key_secret", "registry.json"]
    edge_a = Registry.load(bundles / "edge-edge-a")
    assert set(edge_a.cameras) == {"cam-1"} and set(edge_a.edges) == {"edge-a"} and edge_a.cloud
    assert Registry.load(bundles / "camera-cam-1").cloud is None
    assert mode(secret_path(bundles / "edge-edge-a", "edges", "edge-a")) == 0o600
    assert "created" in capsys.readouterr().out


def test_generate_is_idempotent_and_adds_and_rebinds_cameras(tmp_path, capsys):
    keys = tmp_path / "keys"
    assert main(["generate", "--dir", str(keys), "--camera", "cam-1=room-1"]) == 0
    before = {p: p.read_bytes() for p in keys.rglob("*.key_secret") if "bundles" not in p.parts}
    capsys.readouterr()
    assert main(["generate", "--dir", str(keys), "--camera", "cam-1=room-1"]) == 0
    assert "every key already exists" in capsys.readouterr().out
    assert main(["generate", "--dir", str(keys), "--camera", "cam-2=room-9", "--camera", "cam-1=room-2"]) == 0
    out = capsys.readouterr().out
    assert "cam-2.key_secret" in out and "re-bound from room-1@edge-1 to room-2@edge-1" in out
    assert all(p.read_bytes() == data for p, data in before.items())  # existing keys kept
    registry = Registry.load(keys)
    assert registry.cameras["cam-1"].classroom_id == "room-2" and "cam-2" in registry.cameras
    assert main(["show", "--dir", str(keys)]) == 0
    assert "camera cam-2: classroom room-9, edge edge-1" in capsys.readouterr().out


@pytest.mark.parametrize("camera, message", [
    ("cam-1", "expected CAMERA_ID=CLASSROOM_ID"),
    ("../etc=room-1", "invalid camera name"),
    ("cam-1=room 1", "classroom id 'room 1' is invalid"),
    ("cam-1=room-1@bad/edge", "invalid edge name"),
])
def test_bad_arguments_are_refused_clearly(tmp_path, capsys, camera, message):
    assert main(["generate", "--dir", str(tmp_path / "k"), "--camera", camera]) == 2
    assert message in capsys.readouterr().err


def test_a_camera_given_twice_with_two_bindings_is_refused(tmp_path, capsys):
    assert main(["generate", "--dir", str(tmp_path), "--camera", "c=r1", "--camera", "c=r2"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_a_corrupt_registry_is_reported(tmp_path, capsys):
    (tmp_path / "registry.json").write_text("{not json")
    assert main(["generate", "--dir", str(tmp_path)]) == 2
    assert "not a valid key registry" in capsys.readouterr().err


def test_install_merges_bundles_into_a_service_directory(tmp_path, capsys):
    keys = tmp_path / "keys"
    cams = ["--camera", "cam-load-1=room-1@edge", "--camera", "cam-load-2=room-1@edge", "--camera", "cam-x=room-2@edge"]
    assert main(["generate", "--dir", str(keys), *cams]) == 0
    out = tmp_path / "out"
    (out / "load").mkdir(parents=True)
    (out / "load" / "stale.key_secret").write_text("old")
    owner = f"{os.getuid()}:{os.getgid()}"
    assert main(["install", "--from", str(keys / "bundles"), "--owner", owner,
                 f"camera-cam-load-*={out / 'load'}", f"cloud={out / 'cloud'}"]) == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["cloud/cloud/cloud.key_secret", "cloud/registry.json", "load/cameras/cam-load-1.key_secret",
                     "load/cameras/cam-load-2.key_secret", "load/registry.json"]
    assert set(Registry.load(out / "load").cameras) == {"cam-load-1", "cam-load-2"}
    assert mode(out / "load" / "cameras" / "cam-load-1.key_secret") == 0o600 and mode(out / "load") == 0o700
    capsys.readouterr()
    assert main(["install", "--from", str(keys / "bundles"), f"camera-nobody={out / 'x'}"]) == 2
    assert "no key bundle 'camera-nobody'" in capsys.readouterr().err
    assert main(["install", "--from", str(keys / "bundles"), "cloud"]) == 2
