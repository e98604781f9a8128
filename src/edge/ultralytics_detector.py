"""Person detector running ``ultralytics.YOLO(...).predict`` (for GPU hosts).

Needs torch + torchvision + ultralytics, which the main venv and the default image
do not have; imported lazily. On this project's CPU machines torchvision has no
working ``torchvision::nms`` kernel, so the predictor fails there: use the default
``onnx`` backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .detection import Detection, DetectorConfigError, parse_names, resolve_person_classes
from .models import prepare_ultralytics_environment, require_model


class UltralyticsUnavailable(RuntimeError):
    """ultralytics (or its torch stack) cannot run here."""


class UltralyticsPersonDetector:
    """Same contract as :class:`edge.onnx_detector.OnnxPersonDetector`, via ultralytics."""

    def __init__(
        self,
        model_path: Path,
        person_classes: list[str],
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        input_size: int = 640,
        device: str = "cpu",
    ) -> None:
        require_model(model_path)
        prepare_ultralytics_environment()
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise UltralyticsUnavailable(
                f"the ultralytics backend needs the ultralytics package (and torch): {exc}. "
                "Install them (GPU hosts) or use ROLLCALL_EDGE_BACKEND=onnx"
            ) from None
        self.model = YOLO(str(model_path), task="detect")
        self.names = parse_names(self.model.names)
        if not self.names:
            raise DetectorConfigError(f"{model_path.name}: ultralytics reports no class names")
        self.person_classes = resolve_person_classes(person_classes, self.names, len(self.names))
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.input_size = input_size
        self.device = device
        self.model_name = model_path.name

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """People in ``frame`` (BGR), best first. Person classes are merged for NMS
        (``agnostic_nms``), as the ONNX backend does."""
        try:
            results = self.model.predict(
                frame,
                imgsz=self.input_size,
                conf=self.conf_threshold,
                iou=self.iou_threshold,
                classes=sorted(self.person_classes),
                agnostic_nms=True,
                device=self.device,
                verbose=False,
            )
        except RuntimeError as exc:
            if "torchvision::nms" in str(exc):
                raise UltralyticsUnavailable(
                    "ultralytics' predictor cannot run here: torchvision has no working NMS kernel for this torch "
                    f"build ({exc}). Use ROLLCALL_EDGE_BACKEND=onnx"
                ) from None
            raise
        boxes = results[0].boxes
        xyxy = boxes.xyxy.cpu().numpy()
        conf = boxes.conf.cpu().numpy()
        cls = boxes.cls.cpu().numpy().astype(int)
        detections = [
            Detection(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(s),
                class_id=int(c),
                class_name=self.names.get(int(c), str(c)),
            )
            for b, s, c in zip(xyxy, conf, cls, strict=False)
            if int(c) in self.person_classes
        ]
        detections.sort(key=lambda d: d.score, reverse=True)
        return detections
