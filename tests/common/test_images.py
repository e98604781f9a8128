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


def _reason(data: bytes, **kwargs) -> str:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, **kwargs)
    return caught.value.reason


def test_every_refusal_has_a_reason():
    from tests.common.bombs import jpeg_with_size, junk_before_sof, sof_offset

    jpeg = encode_jpeg(np.zeros((30, 50, 3), np.uint8))
    assert _reason(b"") == "empty"
    assert _reason(b"GIF89a" + bytes(100)) == "header_unreadable"  # only JPEG and PNG
    assert _reason(b"\xff\xd8\xff\xe0 not really a jpeg") == "header_unreadable"
    # One junk byte before the frame header: libjpeg would skip it and decode 144 MP; refused unread.
    assert image_dimensions(junk_before_sof(12000)) is None
    assert _reason(junk_before_sof(12000)) == "header_unreadable"
    assert _reason(junk_before_sof(30)) == "header_unreadable"  # even when small
    assert _reason(jpeg, max_pixels=50 * 30 - 1) == "too_large"
    assert _reason(jpeg_with_size(jpeg, 6000, 6000)) == "too_large"  # 36 MP, inside the old 40 MP guard
    assert _reason(jpeg, expected_size=(30, 50)) == "size_mismatch"  # what the wire header said
    sof = sof_offset(jpeg)
    headers_only = jpeg[: sof + 2 + int.from_bytes(jpeg[sof + 2 : sof + 4], "big")]
    assert _reason(headers_only) == "corrupt"
    assert decode_image(jpeg, max_pixels=50 * 30, expected_size=(50, 30)).shape == (30, 50, 3)


def test_decoded_size_must_match_the_header():
    import cv2

    png = bytearray(cv2.imencode(".png", np.zeros((30, 50, 3), np.uint8))[1].tobytes())
    png[16:24] = struct.pack(">II", 50, 31)  # IHDR says one more row than the data holds (CRC now wrong)
    assert _reason(bytes(png)) in ("size_mismatch", "corrupt")


def test_other_formats_only_for_local_files():
    import cv2

    bmp = cv2.imencode(".bmp", np.zeros((20, 40, 3), np.uint8))[1].tobytes()
    assert _reason(bmp) == "header_unreadable"
    assert decode_image(bmp, other_formats=True).shape == (20, 40, 3)
    assert _reason(bmp, other_formats=True, max_pixels=799) == "too_large"  # checked after decoding
