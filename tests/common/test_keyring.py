"""Loading each tier's keys from a keys directory or bundle, and the errors that say what to do."""

import logging

import pytest

from common.keyring import (
    KeyringError,
    Registry,
    camera_keys,
    cloud_keys,
    edge_keys,
    secret_path,
    warn_if_plaintext,
)
from common.keys_cli import generate
from common.settings_base import ConfigError


@pytest.fixture
def keys(tmp_path):
    generate(tmp_path / "keys", [("cam-1", "room-1", "edge-a"), ("cam-2", "room-2", "edge-b")])
    return tmp_path / "keys"


def test_each_tier_loads_its_bundle(keys):
    bundles = keys / "bundles"
    server, watch = cloud_keys(bundles / "cloud")
    registry = watch.registry
    assert sorted(server.clients.values()) == ["edge-a", "edge-b"]
    name, frames, uplink, _ = edge_keys(bundles / "edge-edge-a")
    assert name == "edge-a" and list(frames.clients.values()) == ["cam-1"]  # only its own cameras
    assert uplink.server_public == server.public
    camera = camera_keys(bundles / "camera-cam-1", "cam-1", "room-1")
    assert camera.server_public == frames.public
    assert registry.cameras["cam-1"].public_key.encode() == camera.public


def test_the_whole_directory_needs_the_edge_name(keys):
    with pytest.raises(KeyringError, match="several edges .*ROLLCALL_EDGE_NAME"):
        edge_keys(keys)
    assert edge_keys(keys, "edge-b")[0] == "edge-b"


def test_missing_keys_say_how_to_create_them(tmp_path, keys):
    for call in (lambda: cloud_keys(None), lambda: edge_keys(tmp_path / "nope"), lambda: camera_keys(None, "c", "r")):
        with pytest.raises(ConfigError, match=r"rollcall-keys generate .*_TRANSPORT=plaintext"):
            call()
    with pytest.raises(KeyringError, match="camera 'cam-9' is not in"):
        camera_keys(keys, "cam-9", "room-1")
    secret_path(keys / "bundles" / "cloud", "cloud", "cloud").unlink()
    with pytest.raises(KeyringError, match="no key file"):
        cloud_keys(keys / "bundles" / "cloud")


def test_a_camera_cannot_load_keys_for_another_classroom(keys):
    with pytest.raises(KeyringError, match="registered to classroom 'room-1', not 'room-2'"):
        camera_keys(keys, "cam-1", "room-2")


def test_a_key_that_is_not_the_registered_one_is_refused(keys):
    other = keys / "bundles" / "camera-cam-2" / "cameras" / "cam-2.key_secret"
    target = secret_path(keys, "cameras", "cam-1")
    target.write_bytes(other.read_bytes())
    with pytest.raises(KeyringError, match="not the one in registry.json"):
        camera_keys(keys, "cam-1", "room-1")


def test_servers_follow_the_registry_as_cameras_are_added(keys):
    name, frames, _, watch = edge_keys(keys / "bundles" / "edge-edge-a")
    assert set(frames.clients.values()) == {"cam-1"}
    generate(keys, [("cam-3", "room-3", "edge-a"), ("cam-1", "room-9", "edge-a")])
    new_key = Registry.load(keys).cameras["cam-3"].public_key.encode()
    assert frames.clients[new_key] == "cam-3"  # an unknown key re-reads the registry at once
    assert watch.registry.cameras["cam-1"].classroom_id == "room-9"
    assert len(frames.clients) == 2


def test_registry_round_trip_and_client_maps(keys):
    registry = Registry.load(keys)
    again = Registry.load(keys)
    assert registry == again
    assert set(registry.camera_clients("edge-b").values()) == {"cam-2"}
    assert registry.camera_clients("nobody") == {}


def test_plaintext_is_logged_as_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        warn_if_plaintext(logging.getLogger("t"), "edge", "plaintext")
        warn_if_plaintext(logging.getLogger("t"), "edge", "curve")
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "unauthenticated" in record.getMessage() + str(record.__dict__)
