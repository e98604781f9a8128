"""Build the configured person detector and face finder."""

from __future__ import annotations

from .detection import PersonDetector
from .faces import FaceFinder
from .settings import EdgeSettings


def build_person_detector(settings: EdgeSettings) -> PersonDetector:
    """The backend named by ``settings.backend`` (raises MissingModelError / DetectorConfigError)."""
    path = settings.model_path(settings.person_model)
    if settings.backend == "ultralytics":
        from .ultralytics_detector import UltralyticsPersonDetector

        return UltralyticsPersonDetector(
            path,
            settings.person_class_list(),
            conf_threshold=settings.conf_threshold,
            iou_threshold=settings.iou_threshold,
            input_size=settings.input_size,
            device=settings.device,
        )
    from .onnx_detector import OnnxPersonDetector

    return OnnxPersonDetector(
        path,
        settings.person_class_list(),
        conf_threshold=settings.conf_threshold,
        iou_threshold=settings.iou_threshold,
        input_size=settings.input_size,
        threads=settings.onnx_threads,
        allow_spinning=settings.onnx_allow_spinning,
    )


def build_face_finder(settings: EdgeSettings) -> FaceFinder:
    """A YuNet face finder (one per worker thread)."""
    return FaceFinder(
        settings.model_path(settings.face_model),
        score_threshold=settings.face_score_threshold,
        max_side=settings.face_max_side,
    )
