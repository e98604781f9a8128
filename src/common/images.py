"""JPEG encode/decode and resizing shared by the tiers (OpenCV, BGR arrays).

Decoding hostile bytes (:func:`decode_image`) is guarded before any pixel is decoded: the JPEG/PNG
header must be readable (a JPEG whose markers cannot be walked is refused, never handed to the
decoder to guess), its size must fit ``max_pixels`` and, when the sender described the image (the
wire header's ``image.width/height``), match that description; after decoding, the array must have
the size the header announced. Each refusal is an :class:`ImageDecodeError` with a short ``reason``
for counters (:data:`REFUSAL_REASONS`).
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

#: Largest image decoded where a tier sets no smaller cap (24 MP: a 6000x4000 photo; enrolment
#: photos). Checked from the header before decoding, so a small payload cannot declare a huge
#: image and exhaust memory. The tiers cap lower: edge frames ``ROLLCALL_EDGE_MAX_FRAME_PIXELS``,
#: cloud crops ``ROLLCALL_CLOUD_MAX_CROP_PIXELS``.
MAX_PIXELS = 24_000_000

#: Why an image was refused, as :attr:`ImageDecodeError.reason` (counter suffixes).
REFUSAL_REASONS = ("empty", "header_unreadable", "too_large", "size_mismatch", "corrupt")

# JPEG start-of-frame markers (baseline, progressive, lossless...), not DHT/JPG/DAC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageDecodeError(ValueError):
    """Bytes that are not a decodable image, or an image refused before decoding; ``reason`` is
    one of :data:`REFUSAL_REASONS`."""

    def __init__(self, message: str, reason: str = "corrupt") -> None:
        super().__init__(message)
        self.reason = reason


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


def check_image(
    data: bytes,
    max_pixels: int = MAX_PIXELS,
    expected_size: tuple[int, int] | None = None,
    other_formats: bool = False,
) -> tuple[int, int] | None:
    """(width, height) from the header of a JPEG/PNG, without decoding; raise ImageDecodeError if
    ``data`` is empty, is not a JPEG/PNG (unless ``other_formats``: then None), has a header that
    cannot be read, announces more than ``max_pixels``, or differs from ``expected_size``."""
    if not data:
        raise ImageDecodeError("empty image payload", "empty")
    kind = image_kind(data)
    if kind is None:
        if other_formats:
            return None
        raise ImageDecodeError(f"not a JPEG or PNG image ({len(data)} bytes)", "header_unreadable")
    size = image_dimensions(data)
    if size is None:
        raise ImageDecodeError(f"{kind.upper()} header cannot be read ({len(data)} bytes)", "header_unreadable")
    width, height = size
    if width * height > max_pixels:
        raise ImageDecodeError(f"image of {width}x{height} px is larger than {max_pixels} px", "too_large")
    if expected_size is not None and tuple(expected_size) != size:
        raise ImageDecodeError(
            f"image is {width}x{height} px but described as {expected_size[0]}x{expected_size[1]}", "size_mismatch"
        )
    return size


def decode_image(
    data: bytes,
    max_pixels: int = MAX_PIXELS,
    expected_size: tuple[int, int] | None = None,
    other_formats: bool = False,
) -> np.ndarray:
    """Decode JPEG/PNG bytes into a BGR array, checked by :func:`check_image` before any pixel is
    decoded; raise ImageDecodeError if refused or corrupt, or if the decoded array does not have the
    size the header announced (either way round: EXIF orientation may turn a JPEG).

    ``other_formats`` also decodes formats without a header we read (BMP, WebP, TIFF...): only for
    local files an operator chose (the IoT tier's image folders), never for bytes from a peer; the
    pixel cap then applies after decoding."""
    size = check_image(data, max_pixels, expected_size, other_formats)
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageDecodeError(f"undecodable image ({len(data)} bytes)", "corrupt")
    height, width = image.shape[:2]
    if size is None:
        if width * height > max_pixels:
            raise ImageDecodeError(f"image of {width}x{height} px is larger than {max_pixels} px", "too_large")
    elif size not in ((width, height), (height, width)):
        raise ImageDecodeError(
            f"decoded {width}x{height} px but the header announced {size[0]}x{size[1]}", "size_mismatch"
        )
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
