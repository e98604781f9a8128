"""Person detection: the result type, class selection and the detector interface."""

from __future__ import annotations

import ast
import os
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class DetectorConfigError(ValueError):
    """The model and the configured person classes do not fit together."""


@dataclass(frozen=True)
class Detection:
    """One detected person: box in frame pixels (x1, y1, x2, y2), confidence, class."""

    box: tuple[float, float, float, float]
    score: float
    class_id: int
    class_name: str

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def int_box(self) -> list[int]:
        """The box rounded to whole pixels (for messages)."""
        return [int(round(v)) for v in self.box]


class PersonDetector(Protocol):
    """Anything that finds people in a BGR frame."""

    def detect(self, frame: np.ndarray) -> list[Detection]: ...


def detect_for_camera(detector: PersonDetector, camera_id: str, frame: np.ndarray) -> list[Detection]:
    """People in ``frame`` of ``camera_id``: through ``detect_camera`` when the detector keeps
    per-camera state (motion regions, edge.motion), else a plain ``detect``."""
    per_camera = getattr(detector, "detect_camera", None)
    if per_camera is not None:
        return list(per_camera(camera_id, frame))
    return detector.detect(frame)


def parse_names(raw: object) -> dict[int, str]:
    """Class names from model metadata: a dict, or its Python-literal string (what
    ultralytics writes into ONNX metadata, e.g. ``"{0: 'person', 1: 'bicycle'}"``)."""
    if isinstance(raw, str):
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return {}
    if isinstance(raw, (list, tuple)):
        raw = dict(enumerate(raw))
    if not isinstance(raw, dict):
        return {}
    return {int(k): str(v) for k, v in raw.items()}


def resolve_person_classes(wanted: list[str], names: dict[int, str], num_classes: int) -> dict[int, str]:
    """Map the configured person classes (names or numeric ids) onto the model's classes.

    Names match case-insensitively. Raises DetectorConfigError when an entry matches
    nothing, so a wrong configuration fails at start-up rather than finding nobody.
    """
    if not wanted:
        raise DetectorConfigError("no person classes configured (ROLLCALL_EDGE_PERSON_CLASSES is empty)")
    by_name = {v.lower(): k for k, v in names.items()}
    chosen: dict[int, str] = {}
    for entry in wanted:
        key = entry.strip()
        if key.lstrip("-").isdigit():
            class_id = int(key)
            if not 0 <= class_id < num_classes:
                raise DetectorConfigError(
                    f"person class id {class_id} out of range: the model has {num_classes} classes"
                )
            chosen[class_id] = names.get(class_id, str(class_id))
        elif key.lower() in by_name:
            class_id = by_name[key.lower()]
            chosen[class_id] = names[class_id]
        else:
            known = ", ".join(f"{k}={v}" for k, v in sorted(names.items())[:20]) or "none (use numeric ids)"
            raise DetectorConfigError(
                f"person class {key!r} is not a class of this model; its classes: {known} "
                "(set ROLLCALL_EDGE_PERSON_CLASSES)"
            )
    return chosen


@dataclass(frozen=True)
class Letterbox:
    """How a frame was scaled and padded into the model input (``pad_*`` = left/top padding)."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map xyxy boxes from model input pixels back to frame pixels (clipped)."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, 0::2] = ((out[:, 0::2] - self.pad_x) / self.scale).clip(0, width)
        out[:, 1::2] = ((out[:, 1::2] - self.pad_y) / self.scale).clip(0, height)
        return out


def letterbox_shape(
    height: int, width: int, size: int | tuple[int, int], auto: bool = False, stride: int = 32
) -> tuple[int, int]:
    """(height, width) of the model input :func:`letterbox` produces for a ``height`` x ``width`` frame.

    ``size`` is the target (an int = square). With ``auto`` the padding is cut down to the
    smallest multiple of ``stride`` (Ultralytics' rectangular "auto" letterbox): a 16:9 frame
    at 640 becomes 640x384 instead of 640x640.
    """
    target_h, target_w = (size, size) if isinstance(size, int) else size
    scale = min(target_h / height, target_w / width)
    new_w, new_h = max(round(width * scale), 1), max(round(height * scale), 1)
    if not auto:
        return target_h, target_w
    return new_h + (target_h - new_h) % stride, new_w + (target_w - new_w) % stride


def letterbox(
    frame: np.ndarray, size: int | tuple[int, int], fill: int = 114, auto: bool = False, stride: int = 32
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``frame`` to fit ``size`` (int = square, or (height, width)) keeping its aspect,
    and pad the rest with grey, centred, with Ultralytics' rounding. With ``auto`` the result is
    the smallest ``stride``-multiple rectangle (see :func:`letterbox_shape`), exactly as
    Ultralytics' ``LetterBox(auto=True)`` does for its rectangular inference."""
    import cv2

    height, width = frame.shape[:2]
    target_h, target_w = (size, size) if isinstance(size, int) else size
    scale = min(target_h / height, target_w / width)
    new_w, new_h = max(round(width * scale), 1), max(round(height * scale), 1)
    dw, dh = target_w - new_w, target_h - new_h
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    resized = (
        cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        if (new_w, new_h) != (width, height)
        else frame
    )
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(fill, fill, fill))
    return padded, Letterbox(scale=scale, pad_x=left, pad_y=top)


_thread_state = threading.local()


def lower_thread_priority(nice: int) -> int:
    """Raise the calling thread's nice value by ``nice`` (once per thread; Linux nice values are
    per thread). Detection is the edge's bulk CPU work: niced, it yields the CPU to the edge's
    receiving and uplink threads and to services sharing the host (the local Rekognition service
    in compose) instead of delaying them. Returns the thread's nice value (0 when not supported)."""
    done = getattr(_thread_state, "nice", None)
    if done is not None:
        return int(done)
    value = 0
    if nice > 0 and hasattr(os, "setpriority"):
        tid = threading.get_native_id()
        try:
            value = min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice)
            os.setpriority(os.PRIO_PROCESS, tid, value)
        except OSError:
            value = 0
    _thread_state.nice = value
    return value
