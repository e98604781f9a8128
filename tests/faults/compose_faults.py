"""Faults against the running ``docker compose`` demo (scripts/compose_ci.sh runs it after the
all-present check), through the Docker SDK:

    python -m tests.faults.compose_faults [--api http://localhost:8080] [--project NAME] [--budget 300]

For each fault a fresh session of the demo classroom is opened (the demo's cameras loop, so every
enrolled student is shown again), the fault is injected, and the cloud API must then show every
enrolled student present in that session exactly once, and nobody else, within the fault's share
of ``--budget`` seconds. Faults: the cloud, the edge, the local Rekognition service and the
students camera killed (``container.kill()``: SIGKILL) and started again; the cloud paused for 30 s
(``container.pause()``: the cgroup freezer, like SIGSTOP). The table goes to res/faults-compose.md;
the exit status is 0 when every fault recovered, 1 otherwise, 2 when the stack is not there.

Only the standard library, the ``docker`` package (dependencies/test.txt) and tests/faults/stack.py's
HTTP helpers are used, so the host's .venv runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .stack import REPO, http_json, now_ms, poll

REPORT = REPO / "res" / "faults-compose.md"
PAUSE_S = 30.0


def say(message: str) -> None:
    print(f"[compose_faults] {message}", file=sys.stderr, flush=True)


def _dotenv(name: str) -> str:
    """``name``'s value in the repository's .env (where scripts/local_secret.sh puts the demo's)."""
    try:
        lines = (REPO / ".env").read_text().splitlines()
    except OSError:
        return ""
    values = [line.split("=", 1)[1] for line in lines if line.startswith(name + "=")]
    return values[-1].strip() if values else ""


class Api:
    """The demo cloud's HTTP API (JSON); errors and silence raise RuntimeError / OSError."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.token = os.environ.get("ROLLCALL_SEED_TOKEN", "") or _dotenv("ROLLCALL_SEED_TOKEN")

    def get(self, path: str) -> Any:
        status, body = http_json(self.base + path, timeout=10, token=self.token)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status} {body}")
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, answer = http_json(
            self.base + path, "POST", body=body if body is not None else {}, timeout=30, token=self.token
        )
        if status not in (200, 201):
            raise RuntimeError(f"POST {path}: HTTP {status} {answer}")
        return answer

    def healthy(self) -> bool:
        try:
            status, body = http_json(self.base + "/api/health", timeout=5)
        except OSError:
            return False
        return status == 200 and bool(body.get("rekognition", {}).get("ok"))

    def student_ids(self) -> set[str]:
        return {s["student_id"] for s in self.get("/api/students")["students"]}

    def new_session(self, classroom_id: str, name: str) -> str:
        """Close the classroom's open sessions and open a new one; its id."""
        for session in self.get(f"/api/sessions?classroom_id={classroom_id}&status=open")["sessions"]:
            self.post(f"/api/sessions/{session['session_id']}/close")
        return str(self.post("/api/sessions", {"classroom_id": classroom_id, "name": name})["session_id"])

    def records(self, session_id: str) -> list[str] | None:
        """Student ids of the session's attendance records (None while the API does not answer)."""
        try:
            return [r["student_id"] for r in self.get(f"/api/sessions/{session_id}/attendance")["records"]]
        except (OSError, RuntimeError):
            return None


@dataclass
class Row:
    fault: str
    how: str
    expected: int
    present: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    downtime_s: float | None = None
    first_record_s: float | None = None
    all_present_s: float | None = None
    error: str = ""

    @property
    def passed(self) -> bool:
        return not (self.lost or self.extra or self.duplicates or self.error)


class Demo:
    """The compose project's containers by service name, and the API."""

    def __init__(self, project: str, api: Api, classroom: str) -> None:
        import docker  # dependencies/test.txt

        self.client = docker.from_env()
        self.project = project
        self.api = api
        self.classroom = classroom

    def container(self, service: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]},
        )
        if not found:
            raise LookupError(f"no container of service {service!r} in compose project {self.project!r}")
        return found[0]

    def kill_and_start(self, service: str) -> float:
        """SIGKILL the service's container, then start it again (unless its restart policy already
        did); returns seconds until it runs again."""
        container = self.container(service)
        started = time.monotonic()
        container.kill()
        poll(lambda: _status(container) != "running" or _restarted(container), timeout=15, interval=0.2)
        if _status(container) != "running":
            container.start()
        if not poll(lambda: _status(container) == "running", timeout=30, interval=0.5):
            raise RuntimeError(f"{service} is not running again 30 s after its restart")
        return time.monotonic() - started

    def pause(self, service: str, seconds: float) -> float:
        container = self.container(service)
        started = time.monotonic()
        container.pause()
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(0.5)  # the fault's deliberate duration
        finally:
            container.unpause()
        return time.monotonic() - started


def _status(container: Any) -> str:
    container.reload()
    return str(container.status)


def _restarted(container: Any) -> bool:
    """The restart policy brought it back already (a new start time)."""
    container.reload()
    return bool(container.attrs.get("RestartCount", 0)) and container.status == "running"


def run_fault(demo: Demo, enrolled: set[str], name: str, how: str, inject: Callable[[], float], seconds: float) -> Row:
    """New session, fault, then wait until every enrolled student is present (the whole fault
    takes at most ``seconds``, at least 20 s of it for the wait); check the records."""
    deadline = time.monotonic() + seconds
    row = Row(fault=name, how=how, expected=len(enrolled))
    try:
        session = demo.api.new_session(demo.classroom, f"faults {name}")
        say(f"{name}: session {session}; injecting")
        row.downtime_s = round(inject(), 1)
        end_ms = now_ms()
        if not poll(demo.api.healthy, timeout=max(deadline - time.monotonic(), 20), interval=1):
            row.error = "the cloud API (with Rekognition) is not healthy again"
        first: list[float] = []

        def all_present() -> bool:
            ids = demo.api.records(session)
            if ids and not first:
                first.append((now_ms() - end_ms) / 1000)
            return ids is not None and enrolled <= set(ids)

        if poll(all_present, timeout=max(deadline - time.monotonic(), 20), interval=2):
            row.all_present_s = round((now_ms() - end_ms) / 1000, 1)
        row.first_record_s = round(first[0], 1) if first else None
        ids = demo.api.records(session) or []
        row.present = sorted(set(ids))
        row.lost = sorted(enrolled - set(ids))
        row.extra = sorted(set(ids) - enrolled)
        row.duplicates = [f"{sid} x{n}" for sid, n in Counter(ids).items() if n > 1]
    except Exception as exc:  # one broken fault must not hide the others' rows
        row.error = f"{type(exc).__name__}: {exc}"[:300]
    say(f"{name}: {'pass' if row.passed else 'FAIL'} {row}")
    return row


def write_report(rows: list[Row], project: str) -> None:
    lines = [
        "# Fault injection on the docker compose demo",
        "",
        "Produced by `python -m tests.faults.compose_faults` (scripts/compose_ci.sh runs it after the all-present",
        "check; the last run wrote this file). For each fault a new session of the demo classroom is opened, the",
        "fault injected through the Docker SDK (`kill()` = SIGKILL then `start()`; `pause()`/`unpause()`), and the",
        "cloud API polled until every enrolled student is present in that session (the demo cameras loop). *Down*:",
        "seconds from the fault to the container running again; *first record* / *all present*: seconds from then.",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, compose project `{project}`, {os.cpu_count()} cores.",
        "",
        "| Fault | How | Enrolled | Present | Lost | Extra | Duplicates | Down s | First record s | All present s "
        "| Result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:

        def fmt(value: float | None) -> str:
            return "never" if value is None else f"{value:g}"

        result = "pass" if r.passed else f"**FAIL**{': ' + r.error if r.error else ''}"
        lines.append(
            f"| {r.fault} | {r.how} | {r.expected} | {len(r.present)} | {', '.join(r.lost) or '-'} "
            f"| {', '.join(r.extra) or '-'} | {', '.join(r.duplicates) or '-'} | {fmt(r.downtime_s)} "
            f"| {fmt(r.first_record_s)} | {fmt(r.all_present_s)} | {result} |"
        )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.compose_faults", description=__doc__.split("\n")[0])
    publish = os.environ.get("ROLLCALL_HTTP_PUBLISH", "8080")
    parser.add_argument("--api", default=f"http://localhost:{publish}", help="cloud API base URL")
    parser.add_argument(
        "--project",
        default=os.environ.get("COMPOSE_PROJECT_NAME") or REPO.name.lower(),
        help="compose project name (default: COMPOSE_PROJECT_NAME, else the repository folder's name)",
    )
    parser.add_argument("--classroom", default=os.environ.get("ROLLCALL_DEMO_CLASSROOM_ID", "demo-101"))
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for all faults together")
    parser.add_argument("--only", nargs="+", help="run only these faults (cloud, edge, rekognition, camera, pause)")
    args = parser.parse_args(argv)

    api = Api(args.api)
    if not poll(api.healthy, timeout=30, interval=1):
        say(f"the cloud API at {args.api} is not healthy: is the compose demo up?")
        return 2
    try:
        demo = Demo(args.project, api, args.classroom)
        demo.container("cloud")
    except Exception as exc:  # docker missing, daemon down, wrong project
        say(f"cannot reach the compose project's containers: {exc}")
        return 2
    enrolled = api.student_ids()
    if not enrolled:
        say("no enrolled students: did the seed run?")
        return 2

    faults: list[tuple[str, str, str, Callable[[], float]]] = [
        ("cloud", "cloud kill -9", "SIGKILL, then start", lambda: demo.kill_and_start("cloud")),
        ("edge", "edge kill -9", "SIGKILL, then start", lambda: demo.kill_and_start("edge")),
        ("rekognition", "Rekognition kill -9", "SIGKILL, then start", lambda: demo.kill_and_start("rekognition")),
        ("camera", "students camera kill -9", "SIGKILL, then start", lambda: demo.kill_and_start("camera-students")),
        ("pause", f"cloud paused {PAUSE_S:g} s", "pause(), unpause()", lambda: demo.pause("cloud", PAUSE_S)),
    ]
    chosen = [f for f in faults if not args.only or f[0] in args.only]
    deadline = time.monotonic() + args.budget
    rows: list[Row] = []
    for index, (_, name, how, inject) in enumerate(chosen):
        share = (deadline - time.monotonic()) / (len(chosen) - index)  # what is left, split evenly
        rows.append(run_fault(demo, enrolled, name, how, inject, seconds=share))
    write_report(rows, args.project)
    failed = [r.fault for r in rows if not r.passed]
    say(f"{len(rows) - len(failed)}/{len(rows)} faults recovered; table in {REPORT}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
