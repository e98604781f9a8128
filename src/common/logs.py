"""JSON-lines logging shared by every tier.

Each line is one JSON object with at least ``ts_ms`` (epoch ms), ``time`` (ISO
8601 UTC), ``level``, ``tier``, ``instance``, ``event`` and, where there is one,
``trace_id``. Lines go to stdout and to ``<log_dir>/<tier>-<instance>.jsonl``.

Use :func:`log_event` for structured events::

    log_event(log, "frame_sent", trace_id=h.trace_id, camera_id=h.camera_id, ts=h.ts)
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .settings import CommonSettings

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats records as one JSON object per line."""

    def __init__(self, tier: str, instance: str) -> None:
        super().__init__()
        self.tier = tier
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        ts_ms = int(record.created * 1000)
        entry: dict[str, Any] = {
            "ts_ms": ts_ms,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "tier": self.tier,
            "instance": self.instance,
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
        }
        message = record.getMessage()
        if message:
            entry["msg"] = message
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key != "event":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def setup_logging(
    tier: str,
    settings: CommonSettings | None = None,
    stream: TextIO | None = None,
    to_file: bool = True,
) -> logging.Logger:
    """Configure the root logger for ``tier``; return the tier's logger.

    Lines go to ``stream`` (default stdout; one-shot commands pass stderr to keep stdout for
    their output) and, with ``to_file``, to the log directory. Safe to call more than once
    (handlers are replaced, not added).
    """
    settings = settings or CommonSettings()
    instance = settings.instance_id or socket.gethostname()
    formatter = JsonFormatter(tier, instance)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rollcall", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(settings.log_level)

    stdout = logging.StreamHandler(stream or sys.stdout)
    stdout.setFormatter(formatter)
    stdout._rollcall = True  # type: ignore[attr-defined]  # our marker, so setup can replace its own handlers
    root.addHandler(stdout)

    problem = (
        _add_file_handler(root, formatter, Path(settings.log_dir), f"{tier}-{instance}.jsonl") if to_file else None
    )

    logger = logging.getLogger(f"rollcall.{tier}")
    if problem:
        log_event(logger, "log_dir_unwritable", level=logging.WARNING, detail=problem)
    return logger


def _add_file_handler(root: logging.Logger, formatter: logging.Formatter, log_dir: Path, name: str) -> str | None:
    """Attach a rotating JSON-lines file handler; return a problem description instead of raising."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_dir / name, maxBytes=50 * 1024 * 1024, backupCount=5)
    except OSError as exc:
        return f"{log_dir}: {exc.strerror or exc}"
    handler.setFormatter(formatter)
    handler._rollcall = True  # type: ignore[attr-defined]  # our marker, so setup can replace its own handlers
    root.addHandler(handler)
    return None


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event. ``fields`` become top-level JSON keys."""
    if logger.isEnabledFor(level):
        clean = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, "", extra={"event": event, **clean})
