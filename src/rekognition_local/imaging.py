"""Turning request image bytes into a BGR array, with AWS's limits and error kinds.

Rekognition accepts JPEG and PNG only. JPEGs are decoded by OpenCV with their
EXIF orientation applied; PNGs may be greyscale, 16-bit or carry an alpha
channel (composited over white so transparent pixels do not turn black).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageTooLarge, InvalidImageFormat

MAX_PIXELS = 80_000_000  # decompression-bomb guard (a 5 MB PNG can claim gigapixels)
_FORMATS = {"JPEG", "PNG"}


def decode_request_image(data: bytes, max_bytes: int) -> np.ndarray:
    """Decode JPEG/PNG bytes into an 8-bit BGR image, upright per EXIF.

    Raises ImageTooLarge (bytes or pixels over the limit) or InvalidImageFormat.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Image size {len(data)} bytes exceeds the limit of {max_bytes} bytes.")
    if not data:
        raise InvalidImageFormat("Request has an empty image.")
    try:
        with Image.open(io.BytesIO(data)) as header:
            fmt, (width, height) = header.format, header.size
            if fmt not in _FORMATS:
                raise InvalidImageFormat(f"Request has unsupported image format ({fmt}); use JPEG or PNG")
            if width * height > MAX_PIXELS:
                raise ImageTooLarge(f"Image of {width}x{height} pixels exceeds {MAX_PIXELS} pixels.")
            if fmt == "JPEG":
                # OpenCV silently returns grey for a truncated JPEG; a 1/8-scale DCT decode reads
                # every entropy-coded byte cheaply and raises on truncation or corruption.
                header.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                header.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidImageFormat("Request has invalid image format") from None
    buffer = np.frombuffer(data, dtype=np.uint8)
    if fmt == "JPEG":
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # applies EXIF orientation
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if image is not None:
            image = _png_to_bgr(image)
    if image is None or image.size == 0:
        raise InvalidImageFormat("Request has invalid image data (could not decode)")
    return image


def _png_to_bgr(image: np.ndarray) -> np.ndarray:
    """8-bit BGR from a PNG decoded unchanged (grey, grey+alpha, BGR, BGRA; 8 or 16 bit)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        # OpenCV's stubs require an output array; None (allocate one) is what its documentation allows.
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)  # type: ignore[call-overload]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 2:  # grey + alpha
        grey, alpha = image[..., 0], image[..., 1]
        image = np.dstack([grey, grey, grey, alpha])
        channels = 4
    if channels == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        colour = image[..., :3].astype(np.float32)
        return (colour * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])
