"""JPEG encode/decode and resizing shared by the tiers (OpenCV, BGR arrays)."""

from __future__ import annotations

import struct

import cv2
import numpy as np

#: Largest image any tier decodes (40 MP, e.g. 7744x5163). Checked from the header before
#: decoding, so a small payload cannot declare a huge image and exhaust memory.
MAX_PIXELS = 40_000_000

# JPEG start-of-frame markers (baseline, progressive, lossless...), not DHT/JPG/DAC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageDecodeError(ValueError):
    """Bytes that are not a decodable image."""


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """Encode a BGR image as JPEG."""
    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def image_kind(data: bytes) -> str | None:
    """``"jpeg"`` or ``"png"`` from the file signature, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a JPEG or PNG header without decoding; None if unreadable."""
    kind = image_kind(data)
    if kind == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if kind == "jpeg":
        return _jpeg_dimensions(data)
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > end:
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (width, height) if width and height else None
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG bytes into a BGR array; raise ImageDecodeError if corrupt, or if the
    header announces more than ``max_pixels`` (checked before any pixel is decoded)."""
    if not data:
        raise ImageDecodeError("empty image payload")
    size = image_dimensions(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageDecodeError(f"image of {size[0]}x{size[1]} px is larger than {max_pixels} px")
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


def grey_thumbnail(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (BGR or grey) as a grey ``size`` (width, height) thumbnail, float32 0-255, area-averaged:
    the cheap picture used to compare frames or crops."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
