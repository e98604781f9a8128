"""Model files: dlib's by path from the package, YuNet from the models dir or a checked mirror."""

import pytest

from rekognition_local.models import ModelError, dlib_models_dir, fetch_yunet, sha256_of
from rekognition_local.settings import YUNET_FILE, YUNET_SHA256


def test_dlib_models_found_by_path():
    folder = dlib_models_dir()
    assert (folder / "dlib_face_recognition_resnet_model_v1.dat").is_file()
    assert (folder / "shape_predictor_5_face_landmarks.dat").is_file()


def test_yunet_copied_from_mirror_directory_with_checksum(tmp_path, models_dir):
    target = fetch_yunet(tmp_path / "models", str(models_dir))
    assert target == tmp_path / "models" / YUNET_FILE and sha256_of(target) == YUNET_SHA256
    assert fetch_yunet(tmp_path / "models", "") == target  # present: no mirror needed


def test_yunet_with_wrong_checksum_or_no_mirror_is_refused(tmp_path):
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / YUNET_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="sha256"):
        fetch_yunet(tmp_path / "models", str(bad_mirror))
    assert not (tmp_path / "models" / YUNET_FILE).exists()
    assert list((tmp_path / "models").iterdir()) == []  # no partial file left behind
    with pytest.raises(ModelError, match="MIRROR is empty"):
        fetch_yunet(tmp_path / "other", "")
