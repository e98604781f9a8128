#!/usr/bin/env python3
"""Container health check for every Rollcall image (standard library only).

    rollcall-healthcheck http URL            # 2xx within the timeout
    rollcall-healthcheck log TIER [MAX_AGE]  # the tier's JSON log file was written recently

``log`` uses the logging contract of src/common/logs.py: each tier writes
``$ROLLCALL_LOG_DIR/<tier>-<instance>.jsonl`` (instance = ``$ROLLCALL_INSTANCE_ID`` or
the hostname) and logs a ``metrics`` line every ``$ROLLCALL_METRICS_INTERVAL_S``
seconds, so a file older than a few intervals means the process is stuck.
``MAX_AGE`` defaults to 3 intervals + 10 s. Exit 0 = healthy, 1 = unhealthy.
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


def check_log(tier: str, max_age_s: float | None, env: dict[str, str], now: float | None = None) -> str | None:
    """None when the tier's log file was modified within ``max_age_s`` seconds."""
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
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "http":
        problem = check_http(args[1])
    elif len(args) >= 2 and args[0] == "log":
        problem = check_log(args[1], float(args[2]) if len(args) > 2 else None, dict(os.environ))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
