"""Image bombs against the local Rekognition service's image decoding (issue 13): each is answered
with AWS's error kind, under 200 MB peak RSS of a fresh process, with the default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.common.bombs import RSS_LIMIT_MB, big_jpeg, junk_before_sof, peak_rss_mb

DECODE = """
import sys
from rekognition_local.errors import RekognitionError
from rekognition_local.imaging import decode_request_image
from rekognition_local.settings import RekognitionSettings

settings = RekognitionSettings()
data = open(sys.argv[1], "rb").read()
try:
    print("decoded", decode_request_image(data, settings.max_image_bytes, settings.max_image_pixels).shape)
except RekognitionError as exc:
    print(exc.code)
"""


@pytest.mark.parametrize(
    "bomb,code",
    [("6000x6000", "ImageTooLargeException"), ("junk_before_sof", "InvalidImageFormatException")],
)
def test_each_bomb_is_refused_under_200_mb(bomb: str, code: str, tmp_path: Path) -> None:
    data = big_jpeg() if bomb == "6000x6000" else junk_before_sof()
    peak, out = peak_rss_mb(DECODE, data, tmp_path)
    assert out == code
    assert peak < RSS_LIMIT_MB, f"{bomb}: {peak:.0f} MB"
