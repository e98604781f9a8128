"""Locating the model files: YuNet (models dir, else mirror) and dlib's .dat files (PyPI package)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .settings import YUNET_FILE, YUNET_SHA256, RekognitionSettings

DLIB_SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
DLIB_RESNET = "dlib_face_recognition_resnet_model_v1.dat"


class ModelError(RuntimeError):
    """A model file is missing, cannot be fetched or fails its checksum."""


@dataclass(frozen=True)
class ModelPaths:
    """Paths of every model file the engine loads."""

    yunet: Path
    shape_predictor: Path
    face_recognition: Path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dlib_models_dir() -> Path:
    """The ``models`` directory of the installed ``face_recognition_models`` package.

    Found through the import system without importing the package, whose helper
    needs ``pkg_resources``.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        raise ModelError("package face-recognition-models is not installed (pip install face-recognition-models==0.3.0)")
    return Path(spec.origin).resolve().parent / "models"


def fetch_yunet(models_dir: Path, mirror: str) -> Path:
    """Return the YuNet file in ``models_dir``, copying/downloading it from ``mirror`` if missing."""
    target = Path(models_dir) / YUNET_FILE
    if target.is_file():
        return target
    if not mirror:
        raise ModelError(f"{target} is missing and ROLLCALL_REKOG_MODELS_MIRROR is empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            if mirror.startswith(("http://", "https://")):
                url = mirror.rstrip("/") + "/" + YUNET_FILE
                with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - configured URL
                    shutil.copyfileobj(response, tmp)
            else:
                source = Path(mirror) / YUNET_FILE
                if not source.is_file():
                    raise ModelError(f"{target} is missing and the mirror has no {source}")
                with open(source, "rb") as fh:
                    shutil.copyfileobj(fh, tmp)
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise ModelError(f"cannot fetch {YUNET_FILE} from {mirror}: {exc}") from exc
        except ModelError:
            tmp_path.unlink(missing_ok=True)
            raise
    actual = sha256_of(tmp_path)
    if actual != YUNET_SHA256:
        tmp_path.unlink(missing_ok=True)
        raise ModelError(f"{YUNET_FILE} from {mirror}: sha256 {actual} != expected {YUNET_SHA256}")
    tmp_path.replace(target)
    return target


def resolve_models(settings: RekognitionSettings) -> ModelPaths:
    """Every model path, fetching YuNet if needed; raise ModelError naming what is missing."""
    dlib_dir = dlib_models_dir()
    paths = ModelPaths(
        yunet=fetch_yunet(settings.models_dir, settings.models_mirror),
        shape_predictor=dlib_dir / DLIB_SHAPE_5,
        face_recognition=dlib_dir / DLIB_RESNET,
    )
    for path in (paths.shape_predictor, paths.face_recognition):
        if not path.is_file():
            raise ModelError(f"dlib model file missing: {path} (reinstall face-recognition-models)")
    return paths
