"""Build the edge's parts from its settings: person detector, face finder, track registry and the
per-worker frame processor (used by the running edge and by the attendance evaluation alike)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from common.metrics import Metrics

from .detection import PersonDetector
from .faces import FaceFinder, QualityGate
from .people import PeopleStage, PersonBoxes
from .pipeline import FrameProcessor
from .settings import EdgeSettings
from .tracker import CropPolicy, TrackRegistry


def build_person_detector(settings: EdgeSettings) -> PersonDetector:
    """The backend named by ``settings.backend`` (raises MissingModelError / DetectorConfigError),
    detecting only in moving regions when ``settings.motion_regions`` (onnx / openvino)."""
    detector = _build_backend(settings)
    if settings.motion_regions and settings.backend in ("onnx", "openvino"):
        from .motion import MotionRegionDetector

        return MotionRegionDetector(
            detector,
            full_every=settings.motion_full_frame_every,
            threshold=settings.motion_threshold,
            max_cameras=settings.max_cameras,
        )
    return detector


def _build_backend(settings: EdgeSettings) -> PersonDetector:
    path = settings.model_path(settings.person_model)
    common: dict[str, Any] = {
        "conf_threshold": settings.conf_threshold,
        "iou_threshold": settings.iou_threshold,
        "input_size": settings.input_size,
    }
    if settings.backend == "ultralytics":
        from .ultralytics_detector import UltralyticsPersonDetector

        return UltralyticsPersonDetector(path, settings.person_class_list(), device=settings.device, **common)
    # The ONNX Runtime and OpenVINO backends read the same ONNX file and take the same CPU options.
    cpu: dict[str, Any] = {
        "threads": settings.onnx_threads,
        "allow_spinning": settings.onnx_allow_spinning,
        "nice": settings.detector_nice,
        **common,
    }
    if settings.backend == "openvino":
        from .openvino_detector import OpenvinoPersonDetector

        return OpenvinoPersonDetector(path, settings.person_class_list(), **cpu)
    from .onnx_detector import OnnxPersonDetector

    return OnnxPersonDetector(path, settings.person_class_list(), **cpu)


def build_face_finder(settings: EdgeSettings) -> FaceFinder:
    """A YuNet face finder (one per worker thread)."""
    return FaceFinder(
        settings.model_path(settings.face_model),
        score_threshold=settings.face_score_threshold,
        max_side=settings.face_max_side,
        keep_face_px=settings.min_face_px,
    )


def build_track_registry(settings: EdgeSettings, ids: Iterator[int] | None = None) -> TrackRegistry:
    """The trackers of every camera, with the configured matching and identity checks. ``ids``:
    where track ids come from (the outbox's, unique across restarts; default 1, 2, ...)."""
    return TrackRegistry(
        settings.track_iou,
        int(settings.track_ttl_s * 1000),
        split_distance=settings.appearance_split_distance,
        scene_cut_diff=settings.scene_cut_diff,
        ids=ids,
        max_cameras=settings.max_cameras,
    )


def build_people_stage(
    settings: EdgeSettings,
    detector: PersonDetector,
    metrics: Metrics,
    logger: logging.Logger,
    threaded: bool = False,
) -> PeopleStage | None:
    """The people stage for ``person_detection=beside`` (None for ``inline``): on its own thread
    (the running edge) or run right after each frame (``threaded=False``: deterministic)."""
    if settings.person_detection != "beside":
        return None
    return PeopleStage(detector, PersonBoxes(settings.max_cameras), metrics, logger, threaded=threaded)


def build_frame_processor(
    settings: EdgeSettings,
    detector: PersonDetector,
    faces: FaceFinder,
    tracks: TrackRegistry,
    metrics: Metrics,
    logger: logging.Logger,
    outstanding: Callable[[str], bool] | None = None,
    people: PeopleStage | None = None,
) -> FrameProcessor:
    """One worker's frame processor: crop policy, quality gate and crop encoding from ``settings``.
    ``outstanding(msg_id)``: whether a crop is still being delivered (the outbox holds it).
    ``people``: the shared people stage; by default, with ``person_detection=beside``, one of its
    own that detects right after each frame (:func:`build_people_stage`)."""
    if people is None:
        people = build_people_stage(settings, detector, metrics, logger)
    return FrameProcessor(
        detector=detector,
        faces=faces,
        tracks=tracks,
        policy=CropPolicy(
            int(settings.retry_interval_s * 1000),
            settings.max_crops_per_track,
            settings.max_attempts,
            int(settings.result_timeout_s * 1000),
            outstanding=outstanding,
        ),
        gate=QualityGate(
            min_face_px=settings.min_face_px, min_blur=settings.min_blur, min_score=settings.face_score_threshold
        ),
        metrics=metrics,
        logger=logger,
        crop_padding=settings.crop_padding,
        jpeg_quality=settings.crop_jpeg_quality,
        send_evidence=settings.evidence_small_faces,
        max_frame_pixels=settings.max_frame_pixels,
        crop_max_side=settings.crop_max_side,
        people=people,
    )
