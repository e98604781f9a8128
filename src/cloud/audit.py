"""A minimal append-only audit trail: one JSON object per line in ``<data_dir>/audit.jsonl``.

Each entry has ``ts_ms`` (epoch ms), ``time`` (ISO 8601 UTC), ``actor`` (who asked: the API
caller, ``user:<name>`` or ``token:<name>``; ``"retention"`` for the purge; ``"cli"`` /
``"bootstrap"`` for accounts; ``"api"`` if none was given), ``action`` (e.g. ``student_erased``,
``crops_purged``, ``login``, ``http_change``: docs/security.md) and the action's own fields. Entries
are only ever appended (opened in append mode, flushed and fsynced per entry); the same entry is
also logged as an ``audit`` event through :mod:`common.logs`. See docs/cloud.md "Privacy".
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from common.logs import log_event

from .records import iso

log = logging.getLogger("rollcall.cloud.audit")

AUDIT_FILE = "audit.jsonl"


class AuditLog:
    """Appends audit entries to a JSON-lines file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, ts_ms: int, actor: str, action: str, **fields: Any) -> dict[str, Any]:
        """Append one entry and return it."""
        entry: dict[str, Any] = {"ts_ms": ts_ms, "time": iso(ts_ms), "actor": actor or "api", "action": action}
        entry.update(fields)
        line = json.dumps(entry, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        log_event(log, "audit", **{k: v for k, v in entry.items() if k not in ("ts_ms", "time")})
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (empty if nothing was recorded yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
