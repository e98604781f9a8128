"""Image bombs against the edge's frame path (issue 13): each FRAME is refused with its reason,
counted and logged, under 200 MB peak RSS of a fresh process. The path is the worker's own
(``build_frame_processor`` with the default settings); the models are stand-ins, since a refused
frame never reaches them (and ONNX Runtime's own memory is not what is measured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.common.bombs import RSS_LIMIT_MB, big_jpeg, junk_before_sof, mismatch_jpeg, peak_rss_mb

FRAME = """
import logging, sys
from common.metrics import Metrics
from common.protocol import MessageType, make_image_message
from edge.detector_factory import build_frame_processor, build_track_registry
from edge.settings import EdgeSettings

class NoOne:
    def detect(self, frame, measure=True):
        return []

settings = EdgeSettings(outbox_path=":memory:")
metrics = Metrics()
processor = build_frame_processor(settings, NoOne(), NoOne(), build_track_registry(settings), metrics,
                                  logging.getLogger("bomb"))
data = open(sys.argv[1], "rb").read()
result = processor.process(make_image_message(MessageType.FRAME, data, {width}, {height}, "cam-1", "room-1"))
counters = metrics.snapshot()["counters"]
print(result.refused, counters.get("frames_refused", 0), counters.get("frames_refused_" + str(result.refused), 0),
      counters.get("frames_processed", 0))
"""


@pytest.fixture(scope="module")
def bombs() -> dict[str, tuple[bytes, tuple[int, int], str]]:
    mismatch, claim = mismatch_jpeg()
    return {
        # A real 6000x6000 JPEG (36 MP, within the old 40 MP guard; 2.9 GB through the models).
        "6000x6000": (big_jpeg(), (6000, 6000), "too_large"),
        # 12000x12000 behind a junk byte (the old guard read no size and decoded 432 MB).
        "junk_before_sof": (junk_before_sof(), (640, 480), "header_unreadable"),
        "size_mismatch": (mismatch, claim, "size_mismatch"),
    }


@pytest.mark.parametrize("bomb", ["6000x6000", "junk_before_sof", "size_mismatch"])
def test_each_bomb_frame_is_refused_counted_under_200_mb(bomb: str, bombs, tmp_path: Path) -> None:
    data, (width, height), reason = bombs[bomb]
    peak, out = peak_rss_mb(FRAME.format(width=width, height=height), data, tmp_path)
    assert out == f"{reason} 1 1 0"
    assert peak < RSS_LIMIT_MB, f"{bomb}: {peak:.0f} MB"


def test_an_honest_frame_within_the_cap_is_processed(bombs, tmp_path: Path) -> None:
    data, _, _ = bombs["size_mismatch"]  # the 1920x1080 JPEG, described truthfully this time
    _, out = peak_rss_mb(FRAME.format(width=1920, height=1080), data, tmp_path)
    assert out == "None 0 0 1"
