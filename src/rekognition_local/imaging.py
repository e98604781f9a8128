"""Turning request image bytes into a BGR array, with AWS's limits and error kinds.

Rekognition accepts JPEG and PNG only. Before any pixel is decoded, the JPEG/PNG header must be
readable by :func:`common.images.check_image` (a JPEG whose markers cannot be walked is refused,
never left to the decoder to guess) and announce at most ``max_pixels``
(``ROLLCALL_REKOG_MAX_IMAGE_PIXELS``); the decoded image must have the announced size. Each
refusal is logged (``image_refused`` with its reason) and answered with AWS's error kind.
JPEGs are decoded by OpenCV with their EXIF orientation applied; PNGs may be greyscale, 16-bit or
carry an alpha channel (composited over white so transparent pixels do not turn black).
"""

from __future__ import annotations

import io
import logging

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from common.images import ImageDecodeError, check_image
from common.logs import log_event

from .errors import ImageTooLarge, InvalidImageFormat

#: Default decompression-bomb guard (24 MP, a 6000x4000 photo; a 5 MB PNG can claim gigapixels).
MAX_PIXELS = 24_000_000
_FORMATS = {"JPEG", "PNG"}
_BAND_ROWS = 256

log = logging.getLogger("rollcall.rekognition.imaging")


def _refuse(reason: str, detail: str, nbytes: int) -> None:
    log_event(log, "image_refused", level=logging.WARNING, reason=reason, detail=detail[:200], bytes=nbytes)


def decode_request_image(data: bytes, max_bytes: int, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG bytes into an 8-bit BGR image, upright per EXIF.

    Raises ImageTooLarge (bytes or pixels over the limit) or InvalidImageFormat (not a JPEG/PNG,
    header unreadable, corrupt).
    """
    if len(data) > max_bytes:
        _refuse("too_many_bytes", f"{len(data)} bytes > {max_bytes}", len(data))
        raise ImageTooLarge(f"Image size {len(data)} bytes exceeds the limit of {max_bytes} bytes.")
    if not data:
        raise InvalidImageFormat("Request has an empty image.")
    try:
        size = check_image(data, max_pixels)
    except ImageDecodeError as exc:
        _refuse(exc.reason, str(exc), len(data))
        if exc.reason == "too_large":
            raise ImageTooLarge(f"{exc} (Image exceeds the pixel limit.)") from None
        raise InvalidImageFormat("Request has invalid image format (use JPEG or PNG with a readable header)") from None
    assert size is not None
    try:
        with Image.open(io.BytesIO(data)) as header:
            fmt, (width, height) = header.format, header.size
            if fmt not in _FORMATS:
                raise InvalidImageFormat(f"Request has unsupported image format ({fmt}); use JPEG or PNG")
            if width * height > max_pixels:  # PIL read another size than our header parser: refuse
                raise ImageTooLarge(f"Image of {width}x{height} pixels exceeds {max_pixels} pixels.")
            if fmt == "JPEG":
                # OpenCV silently returns grey for a truncated JPEG; a 1/8-scale DCT decode reads
                # every entropy-coded byte cheaply and raises on truncation or corruption.
                header.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                header.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        _refuse("corrupt", f"{type(exc).__name__}: {exc}", len(data))
        raise InvalidImageFormat("Request has invalid image format") from None
    buffer = np.frombuffer(data, dtype=np.uint8)
    if fmt == "JPEG":
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # applies EXIF orientation
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if image is not None:
            image = _png_to_bgr(image)
    if image is None or image.size == 0:
        _refuse("corrupt", "could not decode", len(data))
        raise InvalidImageFormat("Request has invalid image data (could not decode)")
    if size not in ((image.shape[1], image.shape[0]), (image.shape[0], image.shape[1])):  # EXIF may turn it
        _refuse("size_mismatch", f"decoded {image.shape[1]}x{image.shape[0]}, header {size[0]}x{size[1]}", len(data))
        raise InvalidImageFormat("Request has invalid image data (decoded size differs from its header)")
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
        # In bands of rows: float32 copies of a whole 24 MP image would take ~800 MB.
        out = np.empty((*image.shape[:2], 3), np.uint8)
        for top in range(0, image.shape[0], _BAND_ROWS):
            band = image[top : top + _BAND_ROWS]
            alpha = band[..., 3:4].astype(np.float32) / 255.0
            colour = band[..., :3].astype(np.float32)
            out[top : top + _BAND_ROWS] = (colour * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
        return out
    return np.ascontiguousarray(image[..., :3])
