"""The edge's outbox: every face crop waits here, on disk, until the cloud has answered it.

At-least-once delivery (anchors: the ZeroMQ guide's Lazy Pirate and Titanic patterns, Kafka's
at-least-once producer with an idempotent consumer): a crop is written to a SQLite database (WAL
mode) before it is sent, and only a RESULT that names it (``ack_of``) deletes it. A crop with no
answer after ``resend_timeout_ms`` is sent again, the wait doubling after each attempt up to
``max_backoff_ms``; a retryable ``error`` RESULT (cloud overloaded, Rekognition throttled or
unreachable) schedules the next attempt the same way. The cloud records by message id, so a crop
sent twice is answered from its stored result and never counted twice.

The store survives cloud outages and edge restarts (after a restart every crop is due at once).
It is bounded: past ``max_crops`` the oldest crop is dropped, and a crop older than ``max_age_ms``
is dropped too; both are returned to the caller to count and log, never silently lost.

It also keeps the edge's track-id high-water mark, so track ids never repeat across restarts (the
cloud's decision rule keys its votes by camera and track).
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.protocol import Message, decode, encode

#: Track ids are reserved from the database in blocks of this many.
TRACK_ID_BLOCK = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS crops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    camera_id TEXT NOT NULL,
    track_id INTEGER,
    frames BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS crops_due ON crops (next_ms, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def pack_frames(frames: list[bytes]) -> bytes:
    """Frames of one multipart message as one blob (each prefixed by its length)."""
    return b"".join(struct.pack(">I", len(f)) + f for f in frames)


def unpack_frames(blob: bytes) -> list[bytes]:
    """The inverse of :func:`pack_frames`."""
    frames, at = [], 0
    while at < len(blob):
        (size,) = struct.unpack_from(">I", blob, at)
        frames.append(blob[at + 4 : at + 4 + size])
        at += 4 + size
    return frames


@dataclass(frozen=True)
class Held:
    """One crop in the outbox."""

    msg_id: str
    camera_id: str
    track_id: int | None
    attempts: int
    created_ms: int
    frames: bytes

    def message(self) -> Message:
        """The stored crop, decoded again."""
        return decode(unpack_frames(self.frames))


class Outbox:
    """Crops waiting for their RESULT (thread-safe; ``path`` ``":memory:"`` keeps them in RAM)."""

    def __init__(
        self,
        path: Path | str,
        max_crops: int = 10000,
        max_age_ms: int = 3_600_000,
        resend_timeout_ms: int = 5000,
        max_backoff_ms: int = 60_000,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.max_crops = max_crops
        self.max_age_ms = max_age_ms
        self.resend_timeout_ms = resend_timeout_ms
        self.max_backoff_ms = max_backoff_ms
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Whatever a previous run left is due now: the cloud may have answered into the void.
        self._db.execute("UPDATE crops SET next_ms = 0")
        self._held: set[str] = {row[0] for row in self._db.execute("SELECT msg_id FROM crops")}
        self.recovered = len(self._held)

    # ------------------------------------------------------------------ writes
    def add(self, message: Message, track_id: int | None, now_ms: int) -> list[Held]:
        """Keep ``message`` until it is answered (due at once). Returns the crops dropped to make
        room (oldest first) when the outbox was full."""
        header = message.header
        blob = pack_frames([bytes(f) for f in encode(message)])
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO crops (msg_id, camera_id, track_id, frames, created_ms) VALUES (?, ?, ?, ?, ?)",
                (header.msg_id, header.camera_id, track_id, blob, now_ms),
            )
            self._held.add(header.msg_id)
            excess = len(self._held) - self.max_crops
            return self._remove_oldest(excess) if excess > 0 else []

    def _remove_oldest(self, count: int) -> list[Held]:
        rows = self._db.execute(
            "SELECT msg_id, camera_id, track_id, attempts, created_ms, frames FROM crops ORDER BY seq LIMIT ?",
            (count,),
        ).fetchall()
        return self._delete([Held(*row) for row in rows])

    def _delete(self, entries: list[Held]) -> list[Held]:
        self._db.executemany("DELETE FROM crops WHERE msg_id = ?", [(e.msg_id,) for e in entries])
        self._held.difference_update(e.msg_id for e in entries)
        return entries

    def sent(self, msg_id: str, now_ms: int) -> int:
        """Record one more attempt of ``msg_id``; it is due again after the backoff. Returns the
        attempt number."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM crops WHERE msg_id = ?", (msg_id,)).fetchone()
            if row is None:
                return 0
            attempts = row[0] + 1
            self._db.execute(
                "UPDATE crops SET attempts = ?, next_ms = ? WHERE msg_id = ?",
                (attempts, now_ms + self.backoff_ms(attempts), msg_id),
            )
            return attempts

    def retry_later(self, msg_id: str, now_ms: int) -> bool:
        """The cloud could not process ``msg_id`` now (a retryable error): try again after the
        backoff of its attempts so far. False if it is not held."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM crops WHERE msg_id = ?", (msg_id,)).fetchone()
            if row is None:
                return False
            self._db.execute(
                "UPDATE crops SET next_ms = ? WHERE msg_id = ?", (now_ms + self.backoff_ms(max(1, row[0])), msg_id)
            )
            return True

    def ack(self, msg_id: str) -> bool:
        """The cloud answered ``msg_id``: forget it. False if it was not held (a second answer)."""
        with self._lock:
            if msg_id not in self._held:
                return False
            self._db.execute("DELETE FROM crops WHERE msg_id = ?", (msg_id,))
            self._held.discard(msg_id)
            return True

    def expire(self, now_ms: int) -> list[Held]:
        """Drop crops older than ``max_age_ms`` (returned, to be counted)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, camera_id, track_id, attempts, created_ms, frames FROM crops WHERE created_ms < ?",
                (now_ms - self.max_age_ms,),
            ).fetchall()
            return self._delete([Held(*row) for row in rows]) if rows else []

    # ------------------------------------------------------------------- reads
    def due(self, now_ms: int, limit: int = 32) -> list[Held]:
        """Crops whose next attempt is due, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, camera_id, track_id, attempts, created_ms, frames FROM crops "
                "WHERE next_ms <= ? ORDER BY seq LIMIT ?",
                (now_ms, limit),
            ).fetchall()
        return [Held(*row) for row in rows]

    def holds(self, msg_id: str) -> bool:
        """True while ``msg_id`` waits for its answer."""
        with self._lock:
            return msg_id in self._held

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def backoff_ms(self, attempts: int) -> int:
        """Wait after attempt number ``attempts`` (1, 2, ...) before the next one."""
        return min(self.max_backoff_ms, self.resend_timeout_ms * 2 ** max(0, attempts - 1))

    # --------------------------------------------------------------- track ids
    def reserve_track_ids(self, count: int = TRACK_ID_BLOCK) -> int:
        """Reserve ``count`` track ids never handed out before (also by earlier runs); returns the
        first."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'track_ids'").fetchone()
            first = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('track_ids', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (first + count - 1,),
            )
            return first

    def track_ids(self) -> Iterator[int]:
        """Track ids for this run, unique across restarts (reserved block by block)."""
        while True:
            first = self.reserve_track_ids()
            yield from range(first, first + TRACK_ID_BLOCK)

    def close(self) -> None:
        """Close the database (held crops stay on disk for the next run)."""
        with self._lock:
            self._db.close()
