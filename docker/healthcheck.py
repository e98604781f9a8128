#!/usr/bin/env python3
"""Container health check for every Rollcall image (standard library only).

    rollcall-healthcheck http URL                       # 2xx within the timeout
    rollcall-healthcheck log TIER [MAX_AGE] [READY_EVENT]

``log`` uses the logging contract of src/common/logs.py: each tier writes
``$ROLLCALL_LOG_DIR/<tier>-<instance>.jsonl`` (instance = ``$ROLLCALL_INSTANCE_ID`` or
the hostname) and logs a ``metrics`` line every ``$ROLLCALL_METRICS_INTERVAL_S``
seconds, so a file older than a few intervals means the process is stuck.
``MAX_AGE`` defaults to 3 intervals + 10 s (``-`` = default). With ``READY_EVENT``
(e.g. ``edge_started``, logged once models are loaded and sockets bound) the
process is only healthy once that event is in its log: looked for in the first
256 KiB of the file, or implied by a rotated ``.jsonl.1`` (the process ran long
enough to rotate). Exit 0 = healthy, 1 = unhealthy.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def check_http(url: str, timeout_s: float = 3.0) -> str | None:
    """None when ``url`` answers 2xx, else the problem."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (local URL)
            if 200 <= response.status < 300:
                return None
            return f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def log_file(tier: str, env: dict[str, str]) -> Path:
    """The JSON log file a tier's process writes (common.logs naming)."""
    instance = env.get("ROLLCALL_INSTANCE_ID") or socket.gethostname()
    return Path(env.get("ROLLCALL_LOG_DIR", "/app/logs")) / f"{tier}-{instance}.jsonl"


READY_SCAN_BYTES = 256 * 1024


def check_log(
    tier: str,
    max_age_s: float | None,
    env: dict[str, str],
    now: float | None = None,
    ready_event: str | None = None,
) -> str | None:
    """None when the tier's log file was modified within ``max_age_s`` seconds
    (and, with ``ready_event``, holds that event)."""
    if max_age_s is None:
        interval = float(env.get("ROLLCALL_METRICS_INTERVAL_S", "10") or 10)
        max_age_s = 3 * interval + 10
    path = log_file(tier, env)
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return f"{path}: not written yet"
    if age > max_age_s:
        return f"{path}: last written {age:.0f} s ago (limit {max_age_s:.0f} s)"
    if ready_event and not Path(f"{path}.1").exists():
        with path.open("rb") as fh:
            head = fh.read(READY_SCAN_BYTES)
        if f'"event":"{ready_event}"'.encode() not in head:
            return f"{path}: no {ready_event!r} event yet"
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "http":
        problem = check_http(args[1])
    elif 2 <= len(args) <= 4 and args[0] == "log":
        max_age = float(args[2]) if len(args) > 2 and args[2] != "-" else None
        ready = args[3] if len(args) > 3 else None
        problem = check_log(args[1], max_age, dict(os.environ), ready_event=ready)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
