import pytest

from common.settings_base import CONFIG_FILE_ENV, ConfigError, load_settings

from edge.settings import EdgeSettings


def test_defaults_match_the_contract(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    monkeypatch.delenv("ROLLCALL_EDGE_MODELS_DIR", raising=False)  # scripts/test.sh sets it
    s = load_settings(EdgeSettings)
    assert s.bind == "tcp://*:5555" and s.cloud_address == "tcp://127.0.0.1:5556"
    assert str(s.models_dir) == "models" and s.backend == "onnx"
    assert s.person_model == "yolov8n.onnx" and s.person_class_list() == ["person"]
    assert s.allowed_camera_set() == frozenset()


def test_recognition_and_tracking_defaults(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    s = load_settings(EdgeSettings)
    assert s.min_face_px == 40  # Rekognition's own smallest face
    assert (s.retry_interval_s, s.max_attempts, s.max_crops_per_track, s.result_timeout_s) == (1.0, 4, 8, 5.0)
    assert (s.scene_cut_diff, s.appearance_split_distance, s.face_max_side) == (16.0, 0.27, 320)
    assert s.evidence_small_faces is True
    assert "resend_interval_s" not in EdgeSettings.model_fields


def test_retry_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    monkeypatch.setenv("ROLLCALL_EDGE_RETRY_INTERVAL_S", "0.5")
    monkeypatch.setenv("ROLLCALL_EDGE_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("ROLLCALL_EDGE_SCENE_CUT_DIFF", "12.5")
    s = load_settings(EdgeSettings)
    assert (s.retry_interval_s, s.max_attempts, s.scene_cut_diff) == (0.5, 2, 12.5)
    monkeypatch.setenv("ROLLCALL_EDGE_APPEARANCE_SPLIT_DISTANCE", "1.5")  # a Bhattacharyya distance is at most 1
    with pytest.raises(ConfigError, match="APPEARANCE_SPLIT_DISTANCE"):
        load_settings(EdgeSettings)


def test_env_lists(monkeypatch):
    monkeypatch.setenv("ROLLCALL_EDGE_PERSON_CLASSES", "Normal, Fall")
    monkeypatch.setenv("ROLLCALL_EDGE_ALLOWED_CAMERAS", "cam-1,cam-2,")
    monkeypatch.setenv("ROLLCALL_EDGE_MODELS_DIR", "/app/models")
    s = load_settings(EdgeSettings)
    assert s.person_class_list() == ["Normal", "Fall"]
    assert s.allowed_camera_set() == {"cam-1", "cam-2"}
    assert str(s.model_path("yolov8n.onnx")) == "/app/models/yolov8n.onnx"
    assert str(s.model_path("/abs/x.onnx")) == "/abs/x.onnx"


def test_every_setting_is_described():
    for name, info in EdgeSettings.model_fields.items():
        assert info.description, name


def test_curve_is_the_default_and_plaintext_an_explicit_opt_in(monkeypatch):
    assert load_settings(EdgeSettings).transport == "curve"
    monkeypatch.setenv("ROLLCALL_EDGE_TRANSPORT", "plaintext")
    assert load_settings(EdgeSettings).transport == "plaintext"
    monkeypatch.setenv("ROLLCALL_EDGE_TRANSPORT", "none")
    with pytest.raises(ConfigError, match="ROLLCALL_EDGE_TRANSPORT"):
        load_settings(EdgeSettings)
