import pytest

from common.settings_base import ConfigError
from iot.settings import camera_configs, load_iot_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("ROLLCALL_IOT_") or name == "ROLLCALL_CONFIG_FILE":
            monkeypatch.delenv(name)


def test_single_camera_from_env(monkeypatch, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    monkeypatch.setenv("ROLLCALL_IOT_SOURCE", str(video))
    monkeypatch.setenv("ROLLCALL_IOT_CAMERA_ID", "front")
    monkeypatch.setenv("ROLLCALL_IOT_CLASSROOM_ID", "B-204")
    monkeypatch.setenv("ROLLCALL_IOT_FPS", "2.5")
    [cam] = camera_configs(load_iot_settings())
    assert (cam.camera_id, cam.classroom_id, cam.source.kind, cam.fps) == ("front", "B-204", "video", 2.5)


def test_bad_env_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("ROLLCALL_IOT_FPS", "fast")
    monkeypatch.setenv("ROLLCALL_IOT_JPEG_QUALITY", "101")
    with pytest.raises(ConfigError) as err:
        load_iot_settings()
    assert "ROLLCALL_IOT_FPS" in str(err.value) and "'fast'" in str(err.value)
    assert "ROLLCALL_IOT_JPEG_QUALITY" in str(err.value)


def test_missing_source_path_is_a_config_error(monkeypatch):
    monkeypatch.setenv("ROLLCALL_IOT_SOURCE", "/no/such/video.mp4")
    with pytest.raises(ConfigError, match=r"ROLLCALL_IOT_SOURCE: .*no such file"):
        load_iot_settings()


def test_cameras_json_with_overrides_and_errors_pointing_at_the_entry(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "ROLLCALL_IOT_CAMERAS",
        f'[{{"camera_id": "door", "classroom_id": "A1", "source": "{tmp_path}", "fps": 3, "motion_gate": true}},'
        ' {"camera_id": "desk", "source": "rtsp://10.0.0.9/live"}]',
    )
    monkeypatch.setenv("ROLLCALL_IOT_CLASSROOM_ID", "default-room")
    door, desk = camera_configs(load_iot_settings())
    assert (door.classroom_id, door.fps, door.motion_gate, door.source.kind) == ("A1", 3, True, "folder")
    assert (desk.classroom_id, desk.fps, desk.motion_gate, desk.source.kind) == ("default-room", 1.0, False, "stream")

    monkeypatch.setenv("ROLLCALL_IOT_CAMERAS", '[{"camera_id": "a", "source": "0"}, {"camera_id": "b", "sorce": "0"}]')
    with pytest.raises(ConfigError) as err:
        load_iot_settings()
    assert "ROLLCALL_IOT_CAMERAS[1].source" in str(err.value) and "ROLLCALL_IOT_CAMERAS[1].sorce" in str(err.value)

    monkeypatch.setenv("ROLLCALL_IOT_CAMERAS", "[{not json")
    with pytest.raises(ConfigError, match="ROLLCALL_IOT_CAMERAS: .*not valid JSON"):
        load_iot_settings()


def test_cameras_from_toml(monkeypatch, tmp_path):
    config = tmp_path / "rollcall.toml"
    config.write_text(
        '[iot]\nfps = 2\nedge_address = "tcp://edge:5555"\n\n'
        '[[iot.cameras]]\ncamera_id = "c1"\nclassroom_id = "r1"\nsource = "0"\n\n'
        '[[iot.cameras]]\ncamera_id = "c2"\nclassroom_id = "r2"\nsource = "1"\nfps = 0.5\n'
    )
    monkeypatch.setenv("ROLLCALL_CONFIG_FILE", str(config))
    monkeypatch.setenv("ROLLCALL_IOT_FPS", "4")  # env beats the file
    settings = load_iot_settings()
    c1, c2 = camera_configs(settings)
    assert settings.edge_address == "tcp://edge:5555"
    assert (c1.camera_id, c1.classroom_id, c1.fps) == ("c1", "r1", 4.0)
    assert (c2.camera_id, c2.fps, c2.source.target) == ("c2", 0.5, "1")


def test_replicate_makes_numbered_cameras():
    cams = camera_configs(load_iot_settings(source="0", camera_id="sim", replicate=3))
    assert [c.camera_id for c in cams] == ["sim-1", "sim-2", "sim-3"]


def test_duplicate_camera_ids_are_rejected(monkeypatch):
    monkeypatch.setenv("ROLLCALL_IOT_CAMERAS", '[{"camera_id": "a", "source": "0"}, {"camera_id": "a", "source": "1"}]')
    with pytest.raises(ConfigError, match="duplicate camera ids.*a"):
        camera_configs(load_iot_settings())


def test_curve_is_the_default_transport(monkeypatch):
    assert load_iot_settings().transport == "curve"
    monkeypatch.setenv("ROLLCALL_IOT_TRANSPORT", "tcp")
    with pytest.raises(ConfigError, match="ROLLCALL_IOT_TRANSPORT"):
        load_iot_settings()
