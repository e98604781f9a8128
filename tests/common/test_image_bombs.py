"""Image bombs against the shared decoder, with the peak memory of a fresh process (issue 13):
each is refused before any pixel is decoded, under 200 MB RSS. The tiers' own paths are tested in
tests/edge, tests/cloud and tests/rekognition_local."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.common.bombs import RSS_LIMIT_MB, big_jpeg, junk_before_sof, mismatch_jpeg, peak_rss_mb

DECODE = """
import sys
from common.images import MAX_PIXELS, ImageDecodeError, decode_image
data = open(sys.argv[1], "rb").read()
try:
    image = decode_image(data, {max_pixels}, {expected})
    print("decoded", image.shape)
except ImageDecodeError as exc:
    print("refused", exc.reason)
"""


@pytest.fixture(scope="module")
def big() -> bytes:
    return big_jpeg()


def test_the_probe_sees_a_decoded_bomb(big: bytes, tmp_path: Path) -> None:
    """The 6000x6000 JPEG, decoded with the old 40 MP cap, costs the 108 MB the probe must see."""
    peak, out = peak_rss_mb(DECODE.format(max_pixels=40_000_000, expected=None), big, tmp_path)
    baseline, _ = peak_rss_mb(DECODE.format(max_pixels=40_000_000, expected=None), b"", tmp_path)
    assert out == "decoded (6000, 6000, 3)"
    assert peak - baseline > 100, (peak, baseline)


@pytest.mark.parametrize("bomb", ["6000x6000", "junk_before_sof", "size_mismatch"])
def test_each_bomb_is_refused_under_200_mb(bomb: str, big: bytes, tmp_path: Path) -> None:
    expected: tuple[int, int] | None = None
    if bomb == "6000x6000":
        data, reason = big, "too_large"
    elif bomb == "junk_before_sof":
        data, reason = junk_before_sof(), "header_unreadable"
    else:
        data, expected = mismatch_jpeg()
        reason = "size_mismatch"
    peak, out = peak_rss_mb(DECODE.format(max_pixels="MAX_PIXELS", expected=expected), data, tmp_path)
    assert out == f"refused {reason}"
    assert peak < RSS_LIMIT_MB, f"{bomb}: {peak:.0f} MB"
