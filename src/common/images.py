"""JPEG encode/decode and resizing shared by the tiers (OpenCV, BGR arrays)."""

from __future__ import annotations

import cv2
import numpy as np


class ImageDecodeError(ValueError):
    """Bytes that are not a decodable image."""


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """Encode a BGR image as JPEG."""
    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    """Decode JPEG/PNG bytes into a BGR array; raise ImageDecodeError if corrupt."""
    if not data:
        raise ImageDecodeError("empty image payload")
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageDecodeError(f"undecodable image ({len(data)} bytes)")
    return image


def resize_max_width(image: np.ndarray, max_width: int) -> np.ndarray:
    """Shrink ``image`` to at most ``max_width`` pixels wide, keeping aspect (0 = no limit)."""
    height, width = image.shape[:2]
    if max_width <= 0 or width <= max_width:
        return image
    new_height = max(1, round(height * max_width / width))
    return cv2.resize(image, (max_width, new_height), interpolation=cv2.INTER_AREA)
