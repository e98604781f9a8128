"""Reading the JSON-lines logs of a run (format: src/common/logs.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunLogs:
    """Every parsed log line of a run, plus what could not be parsed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    bad_lines: int = 0

    def of(self, event: str, tier: str | None = None) -> Iterator[dict[str, Any]]:
        """Events named ``event`` (optionally only from ``tier``)."""
        for entry in self.events:
            if entry.get("event") == event and (tier is None or entry.get("tier") == tier):
                yield entry


def log_files(run_dir: Path) -> list[Path]:
    """``*.jsonl`` files (and rotated ``*.jsonl.N``) anywhere under ``run_dir``, sorted."""
    return sorted(p for p in run_dir.rglob("*.jsonl*") if p.is_file() and (p.suffix == ".jsonl" or ".jsonl." in p.name))


def load_run(run_dir: Path) -> RunLogs:
    """Parse every log line under ``run_dir``. Lines that are not JSON objects are counted, not fatal.

    A file that appears twice (e.g. a stdout copy next to the file log) is not
    deduplicated here; collect_logs.sh only gathers the files.
    """
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    logs = RunLogs(files=log_files(run_dir))
    for path in logs.files:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    logs.bad_lines += 1
                    continue
                if not isinstance(entry, dict):
                    logs.bad_lines += 1
                    continue
                logs.events.append(entry)
    logs.events.sort(key=_event_time)
    return logs


def _event_time(entry: dict[str, Any]) -> float:
    """An event's ``ts_ms`` for sorting (0 when missing or not a number)."""
    value = entry.get("ts_ms")
    return float(value) if isinstance(value, (int, float)) else 0.0
