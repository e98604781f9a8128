"""Image bombs against the cloud's crop path (issue 13): each FACE_CROP is answered ``error`` with a
permanent reason (the edge does not retry it), counted, never searched, under 200 MB peak RSS of a
fresh process running the crop path with the default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.crop_results import PERMANENT_ERRORS
from tests.common.bombs import RSS_LIMIT_MB, big_jpeg, junk_before_sof, mismatch_jpeg, peak_rss_mb

CROP = """
import sys, tempfile
from pathlib import Path
from cloud.crops import CropProcessor
from cloud.deps import ServiceDeps
from cloud.records import RecognitionOutcome
from cloud.sessions import Sessions
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics
from common.protocol import MessageType, make_image_message

class Recognizer:
    collection_id = "bombs"
    calls = 0
    def search(self, image):
        Recognizer.calls += 1
        return RecognitionOutcome(status="no_face", reason="no_face")

root = Path(tempfile.mkdtemp())
deps = ServiceDeps(store=SQLiteStore(root / "db.sqlite3"), evidence=LocalEvidenceStore(root), recognizer=Recognizer(),
                   settings=CloudSettings(data_dir=root, auto_open_session=True), stats=Metrics(), clock=lambda: 1)
Sessions(deps).create_classroom("room-1")
data = open(sys.argv[1], "rb").read()
crop = make_image_message(MessageType.FACE_CROP, data, {width}, {height}, "cam-1", "room-1")
meta = CropProcessor(deps, Sessions(deps)).process_crop(crop).header.meta
counters = deps.stats.snapshot()["counters"]
print(meta["status"], meta.get("reason"), meta.get("retry"), counters.get("crops_rejected_" + str(meta.get("reason"))),
      Recognizer.calls)
"""


@pytest.fixture(scope="module")
def bombs() -> dict[str, tuple[bytes, tuple[int, int], str]]:
    mismatch, claim = mismatch_jpeg()
    return {
        "6000x6000": (big_jpeg(), (6000, 6000), "image_too_large"),
        "junk_before_sof": (junk_before_sof(), (96, 96), "image_header_unreadable"),
        "size_mismatch": (mismatch, claim, "image_size_mismatch"),
    }


@pytest.mark.parametrize("bomb", ["6000x6000", "junk_before_sof", "size_mismatch"])
def test_each_bomb_crop_is_a_permanent_error_under_200_mb(bomb: str, bombs, tmp_path: Path) -> None:
    data, (width, height), reason = bombs[bomb]
    assert reason in PERMANENT_ERRORS
    peak, out = peak_rss_mb(CROP.format(width=width, height=height), data, tmp_path)
    assert out == f"error {reason} False 1 0"
    assert peak < RSS_LIMIT_MB, f"{bomb}: {peak:.0f} MB"


def test_an_honest_crop_is_searched(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    face = cv2.imencode(".jpg", np.full((300, 240, 3), 90, np.uint8))[1].tobytes()
    _, out = peak_rss_mb(CROP.format(width=240, height=300), face, tmp_path)
    assert out == "no_face no_face None None 1"
