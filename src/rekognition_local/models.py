"""Locating the model files: YuNet (models dir, else mirror) and dlib's .dat files (PyPI package)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.models import DLIB_RESNET, DLIB_SHAPE_5, ModelError, dlib_models_dir, fetch_model, sha256_of

from .settings import YUNET_FILE, RekognitionSettings

__all__ = [
    "DLIB_RESNET",
    "DLIB_SHAPE_5",
    "ModelError",
    "ModelPaths",
    "dlib_models_dir",
    "fetch_yunet",
    "resolve_models",
    "sha256_of",
]


@dataclass(frozen=True)
class ModelPaths:
    """Paths of every model file the engine loads."""

    yunet: Path
    shape_predictor: Path
    face_recognition: Path


def fetch_yunet(models_dir: Path, mirror: str) -> Path:
    """Return the YuNet file in ``models_dir``, copying/downloading it (sha256-checked) from
    ``mirror`` (a directory or an http(s) base URL) if missing."""
    target = Path(models_dir) / YUNET_FILE
    if target.is_file():
        return target
    if not mirror:
        raise ModelError(f"{target} is missing and ROLLCALL_REKOG_MODELS_MIRROR is empty")
    return fetch_model(YUNET_FILE, Path(models_dir), mirror=mirror)


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
