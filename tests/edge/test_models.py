import hashlib
import importlib.util

import pytest

from edge import models_cli
from edge.models import (
    KNOWN_MODELS,
    MissingModelError,
    ModelError,
    export_is_current,
    export_onnx,
    sidecar_lines,
    fetch_model,
    source_digest_file,
)
from tests.conftest import REPO, require_asset

YUNET = "face_detection_yunet_2023mar.onnx"


def test_fetch_copies_from_mirror_and_verifies_sha256(tmp_path):
    mirror = require_asset(f"models/{YUNET}").parent
    path = fetch_model(YUNET, tmp_path / "models", mirror=mirror)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == KNOWN_MODELS[YUNET].sha256
    assert fetch_model(YUNET, tmp_path / "models", mirror=mirror) == path  # idempotent


def test_a_tampered_mirror_copy_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / YUNET).write_bytes(b"not the model")
    with pytest.raises(ModelError, match="sha256"):
        fetch_model(YUNET, tmp_path / "models", mirror=mirror)
    assert not (tmp_path / "models" / YUNET).exists()
    assert list((tmp_path / "models").iterdir()) == []  # no temp file left behind


def test_missing_in_mirror_and_no_url(tmp_path):
    with pytest.raises(MissingModelError, match="yolov8n.pt"):
        fetch_model("yolov8n.pt", tmp_path / "models", mirror=tmp_path)
    with pytest.raises(ModelError, match="--mirror"):
        fetch_model("yolov8s-people-fall.pt", tmp_path / "models")


def test_known_models_have_official_urls_and_digests():
    assert KNOWN_MODELS[YUNET].sha256 == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    assert KNOWN_MODELS["yolov8n.pt"].url.startswith("https://github.com/ultralytics/assets/releases/download/")
    assert "NOT verified" in KNOWN_MODELS["yolov8n.pt"].sha256_note


def test_export_cache_follows_the_source_digest_and_export_parameters(tmp_path):
    pt, onnx = tmp_path / "m.pt", tmp_path / "m.onnx"
    pt.write_bytes(b"weights v1")
    onnx.write_bytes(b"graph")
    assert not export_is_current(pt, onnx, 640)  # no sidecar
    digest = hashlib.sha256(b"weights v1").hexdigest()
    source_digest_file(onnx).write_text(digest + "\nimgsz=640\n")
    assert not export_is_current(pt, onnx, 640)  # a sidecar from before the dynamic export: stale
    source_digest_file(onnx).write_text("\n".join(sidecar_lines(digest, 640, dynamic=True)) + "\n")
    assert export_is_current(pt, onnx, 640)
    assert export_is_current(pt, onnx, 640, dynamic=True)
    assert not export_is_current(pt, onnx, 640, dynamic=False)
    assert not export_is_current(pt, onnx, 320)
    pt.write_bytes(b"weights v2")
    assert not export_is_current(pt, onnx, 640)


def test_prepare_models_script_checks_the_same_sidecar_lines(tmp_path):
    """scripts/prepare_models.sh decides "current" with its own shell code: it must agree with
    edge.models.sidecar_lines, or a changed export setting would not trigger a re-export."""
    import subprocess

    script = (REPO / "scripts" / "prepare_models.sh").read_text()
    body = script[script.index("is_current()") :]
    body = body[: body.index("\n}\n") + 3]
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.pt").write_bytes(b"weights")
    (models / "m.onnx").write_bytes(b"graph")
    digest = hashlib.sha256(b"weights").hexdigest()

    def shell_says_current(imgsz: str, dynamic: str) -> bool:
        code = f'MODELS_DIR="{models}"; IMGSZ={imgsz}; DYNAMIC={dynamic}\n{body}\nis_current m'
        return subprocess.run(["bash", "-c", code], timeout=10).returncode == 0

    source_digest_file(models / "m.onnx").write_text("\n".join(sidecar_lines(digest, 640, dynamic=True)) + "\n")
    assert shell_says_current("640", "true")
    assert not shell_says_current("640", "false")
    assert not shell_says_current("320", "true")
    source_digest_file(models / "m.onnx").write_text(f"{digest}\nimgsz=640\n")  # older sidecar
    assert not shell_says_current("640", "true")


def test_prepared_onnx_matches_its_source(people_model):
    pt = people_model.with_suffix(".pt")
    assert export_is_current(pt, people_model, 640, dynamic=True)


@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is not None, reason="ultralytics installed here")
def test_export_without_ultralytics_points_to_the_export_venv(tmp_path):
    pt = tmp_path / "m.pt"
    pt.write_bytes(b"weights")
    with pytest.raises(ModelError, match="export venv"):
        export_onnx(pt, tmp_path)


def test_cli_fetch_list_and_errors(tmp_path, capsys):
    mirror = require_asset(f"models/{YUNET}").parent
    assert models_cli.main(["fetch", YUNET, "--models-dir", str(tmp_path), "--mirror", str(mirror)]) == 0
    assert (tmp_path / YUNET).is_file()
    assert models_cli.main(["fetch", "yolov8n.pt", "--models-dir", str(tmp_path), "--mirror", str(tmp_path / "nope")]) == 1
    assert models_cli.main(["list"]) == 0
    assert "releases/download" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        models_cli.main(["--help"])
    assert info.value.code == 0


def test_int8_quantize_skips_when_current_and_needs_the_export_venv(tmp_path):
    from edge.models import calibration_digest, int8_path, int8_sidecar_lines, quantize_onnx, sha256_of

    onnx, video = tmp_path / "m.onnx", tmp_path / "cam.mp4"
    onnx.write_bytes(b"fp32 graph")
    video.write_bytes(b"frames")
    with pytest.raises(MissingModelError):
        quantize_onnx(onnx, [tmp_path / "missing.mp4"])
    out = int8_path(onnx)
    assert out.name == "m-int8.onnx"
    out.write_bytes(b"int8 graph")
    lines = int8_sidecar_lines(sha256_of(onnx), calibration_digest([video]), 24, 640)
    source_digest_file(out).write_text("\n".join(lines) + "\n")
    assert quantize_onnx(onnx, [video]) == out  # current: nothing imported, nothing rewritten
    assert out.read_bytes() == b"int8 graph"
    if importlib.util.find_spec("onnx") is None:  # the main venv: a clear pointer to the export venv
        with pytest.raises(ModelError, match="export venv"):
            quantize_onnx(onnx, [video], frames=12)  # another recipe parameter: stale
