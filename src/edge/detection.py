"""Person detection: the result type, class selection and the detector interface."""

from __future__ import annotations

import ast
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
                raise DetectorConfigError(f"person class id {class_id} out of range: the model has {num_classes} classes")
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
    """How a frame was scaled and padded into the square model input."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map xyxy boxes from model input pixels back to frame pixels (clipped)."""
        out = boxes.astype(np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def letterbox(frame: np.ndarray, size: int, fill: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize ``frame`` to fit ``size`` x ``size`` keeping aspect, pad the rest with grey
    (as Ultralytics does: centred, padding split with the same rounding)."""
    import cv2

    height, width = frame.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = int(round(width * scale)), int(round(height * scale))
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (width, height) else frame
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(fill, fill, fill))
    return padded, Letterbox(scale=scale, pad_x=left, pad_y=top)
