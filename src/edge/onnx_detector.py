"""YOLOv8-family person detector on ONNX Runtime (CPU): letterbox, decode, NMS. No torch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .detection import (
    Detection,
    DetectorConfigError,
    letterbox,
    letterbox_shape,
    lower_thread_priority,
    parse_names,
    resolve_person_classes,
)
from .models import require_model

#: Ultralytics' cap on detections per image after NMS.
MAX_DETECTIONS = 300


def session_options(threads: int = 0, allow_spinning: bool = False):
    """ONNX Runtime options for one CPU inference at a time per session.

    ``threads`` intra-op threads (0 = ONNX Runtime's default), no inter-op parallelism
    (sequential graph), all graph optimisations. Spinning is off by default: ONNX Runtime's
    idle worker threads otherwise busy-wait between operators, which on a shared or
    oversubscribed CPU burns about a third more CPU time per frame for no gain in latency.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Input shapes vary (letterboxed frames of every camera size, motion regions): ORT's memory
    # pattern is planned and cached per shape, which grows the process with each new shape seen.
    options.enable_mem_pattern = False
    spin = "1" if allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return options


class OnnxPersonDetector:
    """Runs an Ultralytics YOLO detection model exported to ONNX.

    A model with a dynamic input (``rollcall-models export``'s default) gets each frame
    letterboxed to the smallest stride-32 rectangle that holds it at ``input_size`` on its
    longer side, as Ultralytics' predictor does (a 16:9 frame: 640x384, 40 % fewer pixels
    than 640x640). A static model gets its own fixed input shape.

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
        allow_spinning: bool = False,
        nice: int = 0,
    ) -> None:
        import onnxruntime as ort

        require_model(model_path)
        self.session = ort.InferenceSession(
            str(model_path), sess_options=session_options(threads, allow_spinning), providers=["CPUExecutionProvider"]
        )
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self._configure(
            model_path,
            model_input.shape,
            self.session.get_outputs()[0].shape,
            self.session.get_modelmeta().custom_metadata_map,
            person_classes,
            conf_threshold,
            iou_threshold,
            input_size,
        )
        self.nice = nice

    def _configure(
        self,
        model_path: Path,
        shape: list,
        out_shape: list,
        metadata: dict[str, str],
        person_classes: list[str],
        conf_threshold: float,
        iou_threshold: float,
        input_size: int,
    ) -> None:
        """Input geometry, classes and thresholds from the model's shapes and metadata
        (shared with the OpenVINO backend, which reads the same ONNX file)."""
        self.stride = _int_or(metadata.get("stride"), 32)
        #: (height, width) of a static model's input; None = dynamic (rectangular letterbox per frame).
        self.static_shape: tuple[int, int] | None = None
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            self.static_shape = (int(shape[2]), int(shape[3]))
            self.input_size = max(self.static_shape)
        else:
            self.input_size = int(input_size)
        self.names = parse_names(metadata.get("names", ""))
        num_classes = len(self.names) if self.names else (int(out_shape[1]) - 4 if isinstance(out_shape[1], int) else 0)
        if num_classes <= 0:
            raise DetectorConfigError(f"{model_path.name}: cannot tell the number of classes (output {out_shape})")
        if not self.names and person_classes == ["person"]:
            # No metadata: assume COCO ordering, where class 0 is person.
            person_classes = ["0"]
        self.person_classes = resolve_person_classes(person_classes, self.names, num_classes)
        self._class_index = np.array(sorted(self.person_classes), dtype=np.int64)
        self._score_rows = 4 + self._class_index
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.model_name = model_path.name
        self.nice = 0

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """The raw model output ``(1, 4 + classes, anchors)`` for one preprocessed blob."""
        return self.session.run(None, {self.input_name: blob})[0]

    @property
    def dynamic(self) -> bool:
        """True when the model accepts any input size (rectangular letterbox per frame)."""
        return self.static_shape is None

    def input_shape_for(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the model input for a frame of this size."""
        if self.static_shape is not None:
            return self.static_shape
        return letterbox_shape(height, width, self.input_size, auto=True, stride=self.stride)

    def preprocess(self, frame: np.ndarray, input_size: int | None = None) -> tuple[np.ndarray, object]:
        """BGR frame -> (1, 3, H, W) float32 RGB in [0, 1], plus the letterbox geometry.
        ``input_size``: the letterbox's longer side for this frame (dynamic models; default ``input_size``)."""
        if self.static_shape is not None:
            padded, geometry = letterbox(frame, self.static_shape)
        else:
            padded, geometry = letterbox(frame, input_size or self.input_size, auto=True, stride=self.stride)
        blob = cv2.dnn.blobFromImage(padded, scalefactor=1 / 255.0, swapRB=True)
        return blob, geometry

    def detect(self, frame: np.ndarray, input_size: int | None = None) -> list[Detection]:
        """People in ``frame`` (BGR), best first. The calling thread runs niced by ``nice``.
        ``input_size`` overrides the letterbox size for this frame (a motion region at full-frame scale)."""
        lower_thread_priority(self.nice)
        blob, geometry = self.preprocess(frame, input_size)
        output = self.infer(blob)
        return self.decode(output, geometry, frame.shape[1], frame.shape[0])

    def decode(self, output: np.ndarray, geometry, width: int, height: int) -> list[Detection]:
        """Raw model output -> person detections in frame pixels after NMS.

        Vectorised and filtered early: only the person-class score rows are read, candidates
        under the confidence threshold are dropped before any box is built (typically a few
        dozen of the 5040-8400 anchors remain), then one OpenCV NMS over the merged classes.
        """
        preds = output[0]  # (4 + classes, anchors)
        class_scores = preds[self._score_rows]  # (person classes, anchors)
        scores = class_scores.max(axis=0)
        keep = np.flatnonzero(scores >= self.conf_threshold)
        if keep.size == 0:
            return []
        scores = scores[keep]
        best = class_scores[:, keep].argmax(axis=0)
        cx, cy, w, h = preds[:4, keep]
        boxes = geometry.to_frame(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), width, height)
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
        # OpenCV's stubs type the boxes as nested sequences; NMSBoxes takes the (N, 4) array as well.
        kept = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float32), self.conf_threshold, self.iou_threshold)  # type: ignore[arg-type]
        indices = np.asarray(kept, dtype=np.int64).reshape(-1)
        indices = indices[np.argsort(-scores[indices], kind="stable")][:MAX_DETECTIONS]
        detections = []
        for i in indices:
            x1, y1, x2, y2 = (float(v) for v in boxes[i])
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            class_id = int(self._class_index[best[i]])
            detections.append(
                Detection(
                    box=(x1, y1, x2, y2),
                    score=float(scores[i]),
                    class_id=class_id,
                    class_name=self.person_classes[class_id],
                )
            )
        return detections


def _int_or(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default
