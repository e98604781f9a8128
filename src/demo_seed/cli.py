"""``python -m demo_seed``: seed the demo, and small API helpers for scripts.

    python -m demo_seed seed                         # classroom, students, session, frames
    python -m demo_seed open-session --classroom C [--reuse | --close-open]   # prints the session JSON
    python -m demo_seed wait-attendance --classroom C --min-records 1 --timeout 900
    python -m demo_seed wait-eos --camera CAM --since-ms T --timeout 600
    python -m demo_seed export-csv --session S --out res/attendance.csv [--close]

Every command talks to ``ROLLCALL_SEED_API_URL`` (or ``--api``) only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from common.logs import log_event, setup_logging
from common.settings_base import ConfigError, load_settings

from .client import ApiClient, ApiError
from .seed import close_open_sessions, ensure_classroom, ensure_open_session, run_seed
from .settings import SeedSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo_seed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", help="cloud API base URL (default: ROLLCALL_SEED_API_URL)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("seed", help="enrol demo students, open the demo session, write demo frames")
    p = sub.add_parser(
        "open-session",
        help="open a new session (creating the classroom if needed); the API "
        "refuses a second open session of a classroom (409) unless --reuse or --close-open",
    )
    p.add_argument("--classroom", required=True)
    p.add_argument("--name", default="Recorded lecture")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--reuse", action="store_true", help="reuse an open session of the classroom")
    mode.add_argument(
        "--close-open",
        action="store_true",
        help="close the classroom's open sessions first (e.g. left open by an interrupted run)",
    )
    p = sub.add_parser("wait-attendance", help="wait until a session has attendance records")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--session")
    group.add_argument("--classroom", help="the classroom's open session")
    p.add_argument("--student", action="append", default=[], help="wait for this student (repeatable)")
    p.add_argument("--min-records", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--interval", type=float, default=5.0)
    p = sub.add_parser("wait-eos", help="wait until the cloud has seen END_OF_STREAM from a camera")
    p.add_argument("--camera", required=True)
    p.add_argument("--since-ms", type=int, default=0, help="ignore ends before this epoch ms")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--interval", type=float, default=2.0)
    p = sub.add_parser("export-csv", help="write a session's attendance CSV")
    p.add_argument("--session", required=True)
    p.add_argument("--out", required=True, type=Path, help="file to write ('-' = stdout)")
    p.add_argument("--close", action="store_true", help="close the session first")
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def poll(
    check: Callable[[], Any],
    timeout_s: float,
    interval_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Call ``check`` until it returns something truthy or ``timeout_s`` passes (then None).
    API errors while polling count as 'not yet' (the service may be restarting)."""
    deadline = clock() + timeout_s
    while True:
        try:
            result = check()
        except ApiError as exc:
            _say(f"  (API not answering: {exc})")
            result = None
        if result:
            return result
        if clock() >= deadline:
            return None
        sleep(interval_s)


def attendance_ready(client: ApiClient, session_id: str, students: list[str], min_records: int) -> list[dict] | None:
    """The session's records when they satisfy the wait condition, else None."""
    records = (client.json("GET", f"/api/sessions/{session_id}/attendance") or {}).get("records", [])
    seen = {r.get("student_id") for r in records}
    if len(records) >= min_records and all(s in seen for s in students):
        return records
    return None


def stream_ended(client: ApiClient, camera_id: str, since_ms: int) -> dict | None:
    """The cloud's END_OF_STREAM entry for ``camera_id`` (from /api/metrics), if after ``since_ms``."""
    metrics = client.json("GET", "/api/metrics") or {}
    ended = (metrics.get("service") or {}).get("streams_ended") or {}
    entry = ended.get(camera_id) if isinstance(ended, dict) else None
    if isinstance(entry, dict) and int(entry.get("ended_ms") or 0) >= since_ms:
        return entry
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "seed"
    try:
        settings = load_settings(SeedSettings)
    except ConfigError as exc:
        _say(str(exc))
        return 2
    client = ApiClient(
        args.api or settings.api_url, timeout_s=settings.timeout_s, token=settings.token.get_secret_value()
    )
    try:
        return _run(command, args, settings, client)
    except ApiError as exc:
        _say(f"demo_seed {command}: {exc}")
        return 1
    except FileNotFoundError as exc:
        _say(f"demo_seed {command}: {exc}")
        return 1


def _run(command: str, args: argparse.Namespace, settings: SeedSettings, client: ApiClient) -> int:
    if command == "seed":
        log = setup_logging("seed")
        report = run_seed(settings, client, log)
        log_event(log, "seed_done", **asdict(report))
        if report.students_without_faces:
            _say(f"students with no enrolled face: {', '.join(report.students_without_faces)}")
            return 1
        return 0
    if command == "open-session":
        client.wait_healthy(settings.wait_s)
        ensure_classroom(client, args.classroom, args.classroom)
        if args.reuse:
            session = ensure_open_session(client, args.classroom, args.name)
        else:
            if args.close_open:
                for stale in close_open_sessions(client, args.classroom):
                    _say(f"closed session {stale} of {args.classroom}, left open before")
            session = client.json("POST", "/api/sessions", {"classroom_id": args.classroom, "name": args.name})
        print(json.dumps(session))
        return 0
    if command == "wait-attendance":
        session_id = args.session
        if session_id is None:
            session_id = ensure_open_session(client, args.classroom, settings.session_name)["session_id"]
        _say(f"waiting up to {args.timeout:.0f} s for attendance in session {session_id}")
        records = poll(
            lambda: attendance_ready(client, session_id, args.student, args.min_records), args.timeout, args.interval
        )
        if records is None:
            _say(f"timed out: no attendance in session {session_id} after {args.timeout:.0f} s")
            return 1
        print(json.dumps({"session_id": session_id, "records": records}))
        return 0
    if command == "wait-eos":
        _say(f"waiting up to {args.timeout:.0f} s for END_OF_STREAM of {args.camera} at the cloud")
        entry = poll(lambda: stream_ended(client, args.camera, args.since_ms), args.timeout, args.interval)
        if entry is None:
            _say(f"timed out: the cloud saw no END_OF_STREAM from {args.camera}")
            return 1
        print(json.dumps(entry))
        return 0
    if command == "export-csv":
        if args.close:
            try:
                client.json("POST", f"/api/sessions/{args.session}/close")
            except ApiError as exc:
                if exc.status != 409:  # already closed is fine
                    raise
        _, text = client.request("GET", f"/api/sessions/{args.session}/attendance.csv")
        if str(args.out) == "-":
            sys.stdout.write(text.decode("utf-8"))
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(text)
            _say(f"wrote {args.out}")
        return 0
    raise AssertionError(command)
