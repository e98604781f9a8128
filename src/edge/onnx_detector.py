"""YOLOv8-family person detector on ONNX Runtime (CPU): letterbox, decode, NMS. No torch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .detection import Detection, DetectorConfigError, letterbox, parse_names, resolve_person_classes
from .models import require_model


class OnnxPersonDetector:
    """Runs an Ultralytics YOLO detection model exported to ONNX.

    The output ``(1, 4 + classes, anchors)`` holds centre-x, centre-y, width,
    height in input pixels and one sigmoid score per class. Only the configured
    person classes are kept; all of them count as one "person" class for NMS, so
    a person scored as two classes (e.g. Normal and Fall) is reported once.
    Thread-safe: ONNX Runtime sessions may run from several threads.
    """

    def __init__(
        self,
        model_path: Path,
        person_classes: list[str],
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        input_size: int = 640,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        require_model(model_path)
        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        shape = self.session.get_inputs()[0].shape
        static = isinstance(shape[2], int) and isinstance(shape[3], int)
        if static and shape[2] != shape[3]:
            raise DetectorConfigError(f"{model_path.name}: non-square input {shape} is not supported")
        self.input_size = int(shape[2]) if static else int(input_size)
        out_shape = self.session.get_outputs()[0].shape
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.names = parse_names(metadata.get("names", ""))
        num_classes = len(self.names) if self.names else (int(out_shape[1]) - 4 if isinstance(out_shape[1], int) else 0)
        if num_classes <= 0:
            raise DetectorConfigError(f"{model_path.name}: cannot tell the number of classes (output {out_shape})")
        if not self.names and person_classes == ["person"]:
            # No metadata: assume COCO ordering, where class 0 is person.
            person_classes = ["0"]
        self.person_classes = resolve_person_classes(person_classes, self.names, num_classes)
        self._class_index = np.array(sorted(self.person_classes), dtype=np.int64)
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.model_name = model_path.name

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, object]:
        """BGR frame -> (1, 3, S, S) float32 RGB in [0, 1], plus the letterbox geometry."""
        padded, geometry = letterbox(frame, self.input_size)
        blob = cv2.dnn.blobFromImage(padded, scalefactor=1 / 255.0, swapRB=True)
        return blob, geometry

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """People in ``frame`` (BGR), best first."""
        blob, geometry = self.preprocess(frame)
        output = self.session.run(None, {self.input_name: blob})[0]
        return self.decode(output, geometry, frame.shape[1], frame.shape[0])

    def decode(self, output: np.ndarray, geometry, width: int, height: int) -> list[Detection]:
        """Raw model output -> person detections in frame pixels after NMS."""
        preds = output[0].T  # (anchors, 4 + classes)
        scores_all = preds[:, 4 + self._class_index]
        best = scores_all.argmax(axis=1)
        scores = scores_all[np.arange(len(preds)), best]
        keep = scores >= self.conf_threshold
        if not np.any(keep):
            return []
        preds, scores, best = preds[keep], scores[keep], best[keep]
        cx, cy, w, h = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes = geometry.to_frame(boxes, width, height)
        xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        indices = cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(), self.conf_threshold, self.iou_threshold)
        detections = []
        for i in np.array(indices, dtype=np.int64).reshape(-1):
            class_id = int(self._class_index[best[i]])
            box = tuple(float(v) for v in boxes[i])
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            detections.append(Detection(box=box, score=float(scores[i]), class_id=class_id, class_name=self.person_classes[class_id]))
        detections.sort(key=lambda d: d.score, reverse=True)
        return detections
