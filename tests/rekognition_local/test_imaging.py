"""Request image decoding: formats, limits, alpha, greyscale."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from rekognition_local.errors import ImageTooLarge, InvalidImageFormat
from rekognition_local.imaging import decode_request_image


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_png_alpha_is_composited_over_white_and_grey_expanded():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))
    out = decode_request_image(_encode(rgba, "PNG"), 10**6)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert tuple(out[5, 5]) == (255, 0, 0)  # opaque blue in BGR
    assert tuple(out[5, 30]) == (255, 255, 255)  # transparent -> white
    grey = decode_request_image(_encode(Image.new("L", (10, 10), 77), "PNG"), 10**6)
    assert grey.shape == (10, 10, 3) and int(grey[0, 0, 0]) == 77
    grey_alpha = decode_request_image(_encode(Image.new("LA", (10, 10), (77, 255)), "PNG"), 10**6)
    assert grey_alpha.shape == (10, 10, 3)
    deep = cv2.imencode(".png", np.full((8, 8), 65535, np.uint16))[1].tobytes()
    assert int(decode_request_image(deep, 10**6)[0, 0, 0]) == 255


def test_limits_and_formats():
    jpeg = _encode(Image.new("RGB", (32, 32), "white"), "JPEG")
    assert decode_request_image(jpeg, 10**6).shape == (32, 32, 3)
    with pytest.raises(ImageTooLarge):
        decode_request_image(jpeg, len(jpeg) - 1)
    for data in (b"", b"GIF89a....", _encode(Image.new("RGB", (8, 8)), "BMP"), jpeg[: len(jpeg) // 2]):
        with pytest.raises(InvalidImageFormat):
            decode_request_image(data, 10**6)
