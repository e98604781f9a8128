"""Shared pieces for the collaborator tests: a settable clock, the shared dependencies on
SQLite + local files, and FACE_CROP messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloud.deps import ServiceDeps
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics
from common.protocol import Message, MessageType, make_image_message

T0 = 1_800_000_000_000  # a fixed "now" in epoch ms


class MsClock:
    """A clock the test moves by hand (epoch ms)."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def make_deps(tmp_path: Path, recognizer: Any, clock: MsClock | None = None, **settings: Any) -> ServiceDeps:
    """Real SQLite store and local evidence store under ``tmp_path``."""
    return ServiceDeps(store=SQLiteStore(tmp_path / "db.sqlite3"), evidence=LocalEvidenceStore(tmp_path),
                       recognizer=recognizer, settings=CloudSettings(data_dir=tmp_path, **settings),
                       stats=Metrics(), clock=clock or MsClock())


def crop(image: bytes, classroom: str = "room-1", camera: str = "cam-1", track: int | None = 7,
         msg_id: str | None = None, **meta: Any) -> Message:
    """A FACE_CROP as the edge sends it (captured 500 ms before T0); ``meta`` adds header meta fields
    (e.g. ``camera_ms``), a None value leaves the field out."""
    fields: dict[str, Any] = {
        "meta": {"track_id": track, **{k: v for k, v in meta.items() if v is not None}},
        "ts": {"captured": T0 - 500, "edge_sent": T0 - 100},
    }
    if msg_id:
        fields["msg_id"] = msg_id
    return make_image_message(MessageType.FACE_CROP, image, 96, 96, camera, classroom, **fields)


def counters(deps: ServiceDeps) -> dict[str, int]:
    """The counters of the shared metrics."""
    return dict(deps.stats.snapshot()["counters"])
