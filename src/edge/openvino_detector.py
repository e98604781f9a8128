"""YOLOv8-family person detector on OpenVINO (CPU), reading the same ONNX file as the ``onnx``
backend: same letterbox, decode and NMS (inherited), only the inference engine differs. No torch."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from .detection import DetectorConfigError
from .models import require_model
from .onnx_detector import OnnxPersonDetector

#: Compiled input shapes kept per detector (one per distinct frame size; cameras rarely differ).
MAX_COMPILED_SHAPES = 8


def onnx_metadata(model: Any) -> dict[str, str]:
    """The ONNX ``metadata_props`` (ultralytics' names, stride, imgsz) as OpenVINO keeps them:
    under the model's runtime info, key ``framework``."""
    try:
        info = model.get_rt_info()
    except Exception:  # noqa: BLE001 - older OpenVINO: no rt_info access, fall back to shapes only
        return {}
    if "framework" not in info:
        return {}
    framework = info["framework"]
    raw = framework.astype(dict) if hasattr(framework, "astype") else framework
    out: dict[str, str] = {}
    for key, value in dict(raw).items():
        text = value.astype(str) if hasattr(value, "astype") else value
        out[str(key)] = str(text)
    return out


class OpenvinoPersonDetector(OnnxPersonDetector):
    """Runs an Ultralytics YOLO detection ONNX model with OpenVINO's CPU plugin.

    A dynamic model is compiled once per input shape (the rectangular letterbox of each frame
    size: a 16:9 camera at 640 gives 640x384), since OpenVINO runs static shapes faster than
    dynamic ones; compiled shapes are kept (up to :data:`MAX_COMPILED_SHAPES`). ``threads``:
    CPU inference threads per inference (0 = OpenVINO's default, all cores); the LATENCY hint,
    one stream. Thread-safe: each calling thread gets its own infer request.
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
        del allow_spinning  # ONNX Runtime's setting; OpenVINO's threads sleep when idle
        import openvino as ov

        require_model(model_path)
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(model_path))
        except RuntimeError as exc:
            raise DetectorConfigError(f"{model_path.name}: OpenVINO cannot read this model: {exc}") from exc
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}
        if threads > 0:
            self._config["INFERENCE_NUM_THREADS"] = str(threads)
        model_input = self._model.inputs[0]
        self.input_name = model_input.get_any_name()
        shape = [d.get_length() if d.is_static else "dynamic" for d in model_input.get_partial_shape()]
        out = self._model.outputs[0].get_partial_shape()
        out_shape = [d.get_length() if d.is_static else "dynamic" for d in out]
        self._configure(
            model_path,
            shape,
            out_shape,
            onnx_metadata(self._model),
            person_classes,
            conf_threshold,
            iou_threshold,
            input_size,
        )
        self.nice = nice
        self._lock = threading.Lock()
        self._compiled: dict[tuple[int, ...], Any] = {}
        self._local = threading.local()

    def _compiled_for(self, shape: tuple[int, ...]) -> Any:
        with self._lock:
            compiled = self._compiled.get(shape)
            if compiled is None:
                model = self._model.clone()
                if self.static_shape is None:
                    model.reshape({self.input_name: list(shape)})
                if len(self._compiled) >= MAX_COMPILED_SHAPES:
                    self._compiled.pop(next(iter(self._compiled)))
                compiled = self._core.compile_model(model, "CPU", self._config)
                self._compiled[shape] = compiled
            return compiled

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """The raw model output ``(1, 4 + classes, anchors)`` for one preprocessed blob."""
        shape = tuple(int(v) for v in blob.shape)
        compiled = self._compiled_for(shape)
        requests: dict[int, Any] = getattr(self._local, "requests", None) or {}
        self._local.requests = requests
        request = requests.get(id(compiled))
        if request is None or request[0] is not compiled:
            request = (compiled, compiled.create_infer_request())
            requests[id(compiled)] = request
        result = request[1].infer({0: blob})
        return np.asarray(result[0]).copy()
