import struct

import numpy as np
import pytest

from common.images import ImageDecodeError, decode_image, encode_jpeg, image_dimensions, resize_max_width


def test_dimensions_from_headers_without_decoding():
    image = np.zeros((30, 50, 3), np.uint8)
    assert image_dimensions(encode_jpeg(image)) == (50, 30)
    import cv2

    ok, png = cv2.imencode(".png", image)
    assert ok and image_dimensions(png.tobytes()) == (50, 30)
    assert image_dimensions(b"GIF89a...") is None and image_dimensions(b"\xff\xd8\xff") is None


def test_decode_refuses_corrupt_and_huge_images():
    with pytest.raises(ImageDecodeError):
        decode_image(b"")
    with pytest.raises(ImageDecodeError):
        decode_image(b"\xff\xd8\xff\xe0 not really a jpeg")
    jpeg = bytearray(encode_jpeg(np.zeros((16, 16, 3), np.uint8)))
    # Rewrite the frame header to claim 60000 x 60000 px: refused before decoding.
    sof = next(i for i in range(2, len(jpeg) - 1) if jpeg[i] == 0xFF and jpeg[i + 1] == 0xC0)
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    with pytest.raises(ImageDecodeError, match="larger than"):
        decode_image(bytes(jpeg))
    assert decode_image(encode_jpeg(np.zeros((16, 16, 3), np.uint8))).shape == (16, 16, 3)


def test_resize_max_width_keeps_aspect():
    assert resize_max_width(np.zeros((100, 400, 3), np.uint8), 200).shape == (50, 200, 3)
    assert resize_max_width(np.zeros((100, 400, 3), np.uint8), 0).shape == (100, 400, 3)
