"""Model files: where they come from, how they are checked, where they live.

Standard library only, so it runs in the main and in the export virtual
environment alike (``python -m edge.models_cli export`` runs in ``.venv-export``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common.models import KNOWN_MODELS, MissingModelError, ModelError, ModelSource, fetch_model, log, sha256_of

__all__ = ["KNOWN_MODELS", "ModelError", "ModelSource", "MissingModelError", "fetch_model", "log", "sha256_of"]

MIRROR_ENV = "ROLLCALL_MODELS_MIRROR"
MODELS_DIR_ENV = "ROLLCALL_EDGE_MODELS_DIR"


DEFAULT_FETCH = ("yolov8n.pt", "face_detection_yunet_2023mar.onnx")


def how_to_get(name: str) -> str:
    """The command that produces model ``name``."""
    stem = Path(name).stem
    if name.endswith(".onnx") and f"{stem}.pt" in KNOWN_MODELS:
        return (
            f"get it with: rollcall-models fetch {stem}.pt (add --mirror DIR offline), "
            "then export it in the export venv "
            f"that scripts/prepare_models.sh creates: PYTHONPATH=src .venv-export/bin/python -m edge.models_cli export "
            f"models/{stem}.pt  (scripts/prepare_models.sh does both for the models in ROLLCALL_PREPARE_DETECTORS)"
        )
    if name in KNOWN_MODELS:
        return f"get it with: rollcall-models fetch {name}  (or --mirror DIR for an offline copy)"
    return "put it in ROLLCALL_EDGE_MODELS_DIR or point the setting at an absolute path"


def require_model(path: Path) -> Path:
    """Return ``path`` if it is a file, else raise :class:`MissingModelError`."""
    if not path.is_file():
        raise MissingModelError(path, how_to_get(path.name))
    return path


def source_digest_file(onnx_path: Path) -> Path:
    """Sidecar that records what an ONNX file was exported from and how (see :func:`sidecar_lines`)."""
    return onnx_path.with_name(onnx_path.name + ".source.sha256")


def sidecar_lines(pt_sha256: str, imgsz: int, dynamic: bool) -> list[str]:
    """The sidecar's lines: the .pt's sha256, then every export parameter that changes the
    graph. scripts/prepare_models.sh writes nothing itself but compares against the same lines,
    so changing any of them (or the weights) triggers a re-export."""
    return [pt_sha256, f"imgsz={imgsz}", f"dynamic={'true' if dynamic else 'false'}"]


def export_is_current(pt_path: Path, onnx_path: Path, imgsz: int, dynamic: bool = True) -> bool:
    """True when ``onnx_path`` exists and was exported from these exact ``pt_path`` bytes with
    these export parameters (an older sidecar without them counts as stale)."""
    sidecar = source_digest_file(onnx_path)
    if not (onnx_path.is_file() and sidecar.is_file()):
        return False
    return sidecar.read_text().split() == sidecar_lines(sha256_of(pt_path), imgsz, dynamic)


def prepare_ultralytics_environment() -> None:
    """Before importing ultralytics: offline, no auto-install, a writable private config dir."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no network checks / downloads
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install from inside ultralytics
    if "YOLO_CONFIG_DIR" not in os.environ:
        config_dir = Path(tempfile.gettempdir()) / "rollcall-ultralytics"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)


def export_onnx(
    pt_path: Path, out_dir: Path | None = None, imgsz: int = 640, dynamic: bool = True, force: bool = False
) -> Path:
    """Export an Ultralytics ``.pt`` to ONNX with Ultralytics' own exporter: batch 1,
    onnxslim-simplified; input height/width dynamic (default: the edge letterboxes each frame
    to its smallest stride-32 rectangle, e.g. 640x384 for 16:9) or, with ``dynamic=False``, a
    static ``imgsz`` x ``imgsz`` square. Skips when the ONNX is current."""
    require_model(pt_path)
    out_dir = out_dir or pt_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / (pt_path.stem + ".onnx")
    if not force and export_is_current(pt_path, onnx_path, imgsz, dynamic):
        log(
            f"{onnx_path.name}: up to date (exported from this {pt_path.name} with the same parameters), "
            "skipping export"
        )
        return onnx_path
    prepare_ultralytics_environment()
    try:
        from ultralytics import YOLO  # lazy: only the export venv has it
    except ImportError as exc:
        raise ModelError(
            f"ultralytics is not installed in this Python ({sys.executable}): {exc}.\n"
            "  Export runs in the export venv: scripts/prepare_models.sh creates .venv-export "
            "(torch CPU + ultralytics), then: PYTHONPATH=src .venv-export/bin/python -m edge.models_cli export FILE.pt"
        ) from None
    with tempfile.TemporaryDirectory(prefix="rollcall-export-") as work:
        staged = Path(work) / pt_path.name
        shutil.copyfile(pt_path, staged)
        kind = "dynamic height/width" if dynamic else "static"
        log(f"{pt_path.name}: exporting to ONNX (imgsz={imgsz}, {kind}, simplified)")
        produced = Path(
            YOLO(str(staged)).export(format="onnx", imgsz=imgsz, dynamic=dynamic, batch=1, simplify=True, device="cpu")
        )
        if not produced.is_file():
            raise ModelError(f"ultralytics export of {pt_path} produced no file")
        tmp = onnx_path.with_name(f".{onnx_path.name}.tmp")
        shutil.copyfile(produced, tmp)
        os.replace(tmp, onnx_path)
    source_digest_file(onnx_path).write_text("\n".join(sidecar_lines(sha256_of(pt_path), imgsz, dynamic)) + "\n")
    log(f"{onnx_path.name}: written to {out_dir}")
    return onnx_path


#: How :func:`quantize_onnx` quantizes (recorded in the sidecar; change it and models re-quantize).
INT8_RECIPE = "int8=qdq,conv-only,per-channel,minmax,u8-activations,s8-weights"


def int8_path(onnx_path: Path) -> Path:
    """``NAME.onnx`` -> ``NAME-int8.onnx`` (beside it)."""
    return onnx_path.with_name(onnx_path.stem + "-int8.onnx")


def int8_sidecar_lines(source_sha256: str, calibration_sha256: str, frames: int, imgsz: int) -> list[str]:
    """Sidecar lines of an INT8 model: its FP32 source, calibration data and recipe."""
    return [source_sha256, INT8_RECIPE, f"calibration={calibration_sha256}", f"frames={frames}", f"imgsz={imgsz}"]


def calibration_digest(files: list[Path]) -> str:
    """One sha256 over the calibration files (their names and contents)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + sha256_of(path).encode())
    return digest.hexdigest()


def calibration_frames(files: list[Path], count: int) -> list:
    """Up to ``count`` BGR frames spread evenly over the calibration videos/images."""
    import cv2

    per_file = max(1, -(-count // max(1, len(files))))
    frames = []
    for path in files:
        image = cv2.imread(str(path)) if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp") else None
        if image is not None:
            frames.append(image)
            continue
        cap = cv2.VideoCapture(str(path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or per_file
        for index in range(per_file):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(index * total / per_file))
            ok, frame = cap.read()
            if ok:
                frames.append(frame)
        cap.release()
    if not frames:
        raise ModelError(f"no calibration frames could be read from {', '.join(map(str, files))}")
    return frames[:count]


def quantize_onnx(
    onnx_path: Path, calibration: list[Path], frames: int = 24, imgsz: int = 640, force: bool = False
) -> Path:
    """Optional INT8 variant of an exported detector: ONNX Runtime static quantization (QDQ,
    convolutions only, per-channel weights, MinMax calibration on ``frames`` frames of the
    ``calibration`` videos/images letterboxed as the edge does). Writes ``NAME-int8.onnx``
    and a sidecar; skips when both are current. Needs the ``onnx`` package (export venv)."""
    require_model(onnx_path)
    for path in calibration:
        require_model(path)
    out = int8_path(onnx_path)
    expected = int8_sidecar_lines(sha256_of(onnx_path), calibration_digest(calibration), frames, imgsz)
    sidecar = source_digest_file(out)
    if not force and out.is_file() and sidecar.is_file() and sidecar.read_text().split() == expected:
        log(f"{out.name}: up to date (quantized from this {onnx_path.name}), skipping")
        return out
    try:
        import cv2
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError as exc:
        raise ModelError(
            f"INT8 quantization needs onnx + onnxruntime + opencv ({exc}); run it in the export venv: "
            "PYTHONPATH=src .venv-export/bin/python -m edge.models_cli quantize ..."
        ) from None
    from .detection import letterbox

    blobs = [
        cv2.dnn.blobFromImage(letterbox(frame, imgsz, auto=True)[0], scalefactor=1 / 255.0, swapRB=True)
        for frame in calibration_frames(calibration, frames)
    ]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([{"images": blob} for blob in blobs])

        def get_next(self):
            return next(self._feeds, None)

    log(f"{onnx_path.name}: quantizing to INT8 ({len(blobs)} calibration frames)")
    tmp, source = out.with_name(f".{out.name}.tmp").resolve(), onnx_path.resolve()
    # ONNX Runtime's calibrator may spill tensors (<uuid>.data) into the working directory:
    # run it from a scratch directory that is removed afterwards.
    try:
        with tempfile.TemporaryDirectory(prefix="rollcall-quantize-") as scratch, contextlib.chdir(scratch):
            quantize_static(
                str(source),
                str(tmp),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Conv"],
                calibrate_method=CalibrationMethod.MinMax,
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    sidecar.write_text("\n".join(expected) + "\n")
    log(f"{out.name}: written to {out.parent}")
    return out
