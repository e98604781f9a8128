"""Fault injection on the real tiers (issue 12 item 4): each case plays one attendance-evaluation
scenario through the real processes (tests/faults/stack.py: local Rekognition, cloud, edge, an IoT
camera at 2 frames/s, no loop), injects one fault while students are in view, and checks through
the cloud's HTTP API and its SQLite store that

* every student the scenario shows is present, and nobody else (the scenario enrols 8 students
  and shows 6 of them);
* nothing is counted twice: one attendance record per student, each crop (msg id) recorded once,
  no face of one frame recorded under two crops, the record's sighting count equal to its
  sightings;

and measures recovery: seconds from the fault's end to the cloud's first answer for the camera
after it, and to all expected students present. The edge cases also require every crop pending
when the edge was killed to be answered by the cloud in the end (at-least-once delivery).

Faults: the cloud kill -9 while a crop is in flight (restarted at once); the edge kill -9 while
crops wait for a frozen or stopped cloud (restart the edge, then bring the cloud back); the local Rekognition
service kill -9 until crops fail (then restarted); the camera kill -9 mid-stream (restarted, it
replays the video from the start); the cloud unreachable for 30 s, frozen (SIGSTOP) or stopped;
the cloud down across the end of the class (its crops filed late in the ended session).

Every row, passed or not, goes into ``res/faults.md`` when the module ends (also under CI; the file
in the repository is the last local run: ``./scripts/test.sh tests/faults``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evaluation.scenario_folder import Scenario, load_scenario
from evaluation.scenarios import build_scenarios
from tests.conftest import ASSETS, REPO, require_asset
from tests.edge.conftest import PEOPLE_CLASSES, PEOPLE_MODEL, YUNET, models_dir, require_model_file

from .stack import Stack, TierProcess, now_ms, poll

pytestmark = pytest.mark.slow

#: Two people per frame, three groups of 3 s, 1 s of background between: 6 of the 8 enrolled shown, 11 s.
SCENARIO = "two_in_frame"
FPS = 2.0
#: Longest wait for the outcome after the fault ended (covers an outbox's resend backoff).
OUTCOME_TIMEOUT_S = 75.0
#: The stream ended and nothing happened for this long (no RESULT for the camera, the outbox
#: empty): whatever is missing now is lost.
SETTLE_S = 8.0
#: The cloud-unreachable cases.
OUTAGE_S = 30.0
#: The class that ends while the cloud is down: its length from the case's start (the 11 s video,
#: played once from a camera that starts in a second or two, ends well inside it).
CLASS_S = 35.0
#: After an edge restart every crop its outbox kept is due at once, and the cloud answers every
#: crop it receives: the restarted edge must hold an answer for each within this many seconds of
#: the fault's end (the backlog is a few crops; a missed answer costs a resend backoff, 10 s or more).
EDGE_ACK_BOUND_S = 10.0
REPORT = REPO / "res" / "faults.md"


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    for relative in ("faces/manifest.csv", "faces/enroll", "models/face_detection_yunet_2023mar.onnx"):
        require_asset(relative)
    [folder] = build_scenarios(ASSETS, tmp_path_factory.mktemp("scenarios"), [SCENARIO])
    loaded = load_scenario(folder)
    assert loaded.expected and set(loaded.enroll) - loaded.expected, "the scenario must leave someone out"
    return loaded


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, scenario: Scenario) -> Iterator[Stack]:
    require_model_file(PEOPLE_MODEL)
    require_model_file(YUNET)
    root = tmp_path_factory.mktemp("stack")
    with Stack(root, models_dir=models_dir(), person_model=PEOPLE_MODEL, person_classes=",".join(PEOPLE_CLASSES)) as s:
        s.start()
        enrolled = s.enrol_dir(scenario.path / "enroll")
        assert set(enrolled) == set(scenario.enroll) and all(enrolled.values()), enrolled
        yield s


@dataclass
class Row:
    """One fault case's outcome, one line of res/faults.md."""

    fault: str
    how: str
    expected: list[str]
    present: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)  # crops pending at the fault, never answered
    crops_lost: int | None = None  # crops the edge made that the cloud never answered (reported only)
    pending: int = 0  # crops pending when the edge was killed (edge cases)
    edge_acked_s: float | None = None  # fault end -> the restarted edge holds an answer for each of them
    downtime_s: float | None = None
    first_result_s: float | None = None
    all_present_s: float | None = None
    case_s: float | None = None
    rss_mb: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        late = self.pending and (self.edge_acked_s is None or self.edge_acked_s > EDGE_ACK_BOUND_S)
        return not (self.lost or self.extra or self.duplicates or self.undelivered or late)


@pytest.fixture(scope="module")
def report() -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    if rows:
        write_report(rows)


@pytest.fixture()
def case(stack: Stack, scenario: Scenario, report: list[Row], request: pytest.FixtureRequest) -> Iterator[Case]:
    stack.ensure_running()
    name = request.node.name.removeprefix("test_").replace("[", "-").rstrip("]").replace("_", "-")[:40]
    running = Case(stack, scenario, name)
    try:
        yield running
    finally:
        for proc in stack.servers:  # a failed case must not leave a frozen server to the next
            if proc.frozen:
                proc.thaw()
        if running.camera is not None:
            running.camera.stop()
        if running.row is not None:
            report.append(running.row)


# --------------------------------------------------------------------------- one case
class Case:
    """One scenario run in its own classroom, session and camera id, with one fault in it."""

    def __init__(self, stack: Stack, scenario: Scenario, name: str) -> None:
        self.stack = stack
        self.scenario = scenario
        self.name = name
        self.classroom = f"room-{name}"
        self.camera_id = f"cam-{name}"
        self.session = stack.open_session(self.classroom, name=f"faults {name}")
        self.camera: TierProcess | None = None
        self.started_ms = now_ms()
        self.fault_start_ms: int | None = None
        self.fault_end_ms: int | None = None
        self.camera_gone_ms: int | None = None
        self.row: Row | None = None
        self.notes: list[str] = []

    # --- driving --------------------------------------------------------------------------
    def play(self) -> TierProcess:
        """Start the camera: the scenario's video once, in real time, at FPS frames per second."""
        self.camera = self.stack.camera(self.camera_id, self.scenario.video, self.classroom, fps=FPS)
        return self.camera

    def fault_started(self) -> None:
        self.fault_start_ms = now_ms()

    def fault_ended(self) -> None:
        self.fault_end_ms = now_ms()

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
        """A precondition of the fault (bounded); fails the case when it does not come."""
        value = poll(predicate, timeout)
        if not value:
            pytest.fail(
                f"{self.name}: {what} within {timeout:g} s; cloud console:\n{self.stack.cloud.console_tail(1500)}"
            )
        return value

    def crops_sent(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        since = self.started_ms if since_ms is None else since_ms
        return self.stack.edge.events("crop_sent", since_ms=since, camera_id=self.camera_id)

    def crops_made(self, since_ms: int) -> set[tuple[Any, Any]]:
        """Crops the edge made for this camera since ``since_ms``, sent or not (``crop_sent``,
        ``crop_dropped``, or ``crop_queued`` of an edge with an outbox), by (frame, track)."""
        return {
            (e.get("trace_id"), e.get("track_id"))
            for event in ("crop_sent", "crop_dropped", "crop_queued")
            for e in self.stack.edge.events(event, since_ms=since_ms, camera_id=self.camera_id)
        }

    def crop_ids(self, since_ms: int | None = None) -> set[str]:
        """Message ids of the crops the edge made for this camera since ``since_ms`` (default: the
        case's start): ``crop_sent`` (and ``crop_queued`` / ``crop_resent`` of an edge with an outbox)."""
        since = self.started_ms if since_ms is None else since_ms
        return {
            e["msg_id"]
            for event in ("crop_sent", "crop_queued", "crop_resent")
            for e in self.stack.edge.events(event, since_ms=since, camera_id=self.camera_id)
            if e.get("msg_id")
        }

    def edge_acks(self, msg_ids: set[str], since_ms: int) -> dict[str, int]:
        """When the edge received its first RESULT for each of ``msg_ids`` at or after ``since_ms``."""
        acks: dict[str, int] = {}
        for e in self.stack.edge.events("result_received", since_ms=since_ms, camera_id=self.camera_id):
            if e.get("msg_id") in msg_ids:
                acks.setdefault(e["msg_id"], e["ts_ms"])
        return acks

    def answered_ids(self) -> set[str]:
        """Message ids the cloud answered for this camera (any status)."""
        return {e["msg_id"] for e in self.results() if e.get("msg_id")}

    def frames_sent(self) -> int:
        assert self.camera is not None
        return len(self.camera.events("frame_sent", since_ms=self.camera.spawned_ms))

    def recorded(self) -> list[dict[str, Any]]:
        """The cloud's ``attendance_recorded`` log lines of this case's session (all cloud runs)."""
        return self.stack.cloud.events("attendance_recorded", since_ms=self.started_ms, session_id=self.session)

    def results(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        since = self.started_ms if since_ms is None else since_ms
        return self.stack.cloud.events("recognition_result", since_ms=since, camera_id=self.camera_id)

    def present(self) -> set[str] | None:
        """Students with an attendance record (None while the cloud does not answer)."""
        try:
            return {r["student_id"] for r in self.stack.attendance(self.session)}
        except OSError:
            return None

    def outbox_depth(self) -> int | None:
        """Crops of this camera the edge's outbox still holds (best effort: None without an outbox)."""
        path = self.stack.edge_outbox
        if not path.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)) as db:
                return int(
                    db.execute("SELECT count(*) FROM crops WHERE camera_id = ?", (self.camera_id,)).fetchone()[0]
                )
        except sqlite3.Error:
            return None

    # --- outcome --------------------------------------------------------------------------
    def _stream_done(self) -> bool:
        """The camera exited and its END_OF_STREAM reached the cloud (or 10 s passed since it exited)."""
        assert self.camera is not None
        if self.camera.alive:
            return False
        if self.camera_gone_ms is None:
            self.camera_gone_ms = now_ms()
        eos = self.stack.cloud.events("end_of_stream", since_ms=self.started_ms, camera_id=self.camera_id)
        return bool(eos) or now_ms() - self.camera_gone_ms >= 10_000

    def _settled(self) -> bool:
        if not self._stream_done():
            return False
        present = self.present()
        if present is None:
            return False
        if present >= self.scenario.expected:
            return True
        if self.outbox_depth():
            return False  # the edge still holds crops for the cloud
        last = max([e["ts_ms"] for e in self.results()] + [self.camera_gone_ms or 0, self.fault_end_ms or 0])
        return now_ms() - last >= SETTLE_S * 1000

    def finish(self, fault: str, how: str) -> Row:
        """Wait (bounded) for the outcome, measure it, record the row; the case's assertions follow."""
        assert self.fault_end_ms is not None, "the case never ended its fault"
        left = OUTCOME_TIMEOUT_S - (now_ms() - self.fault_end_ms) / 1000
        if not poll(self._settled, max(left, 5.0), interval=0.25):
            self.notes.append(f"not settled {OUTCOME_TIMEOUT_S:g} s after the fault")
        row = Row(fault=fault, how=how, expected=sorted(self.scenario.expected))
        records = self.stack.attendance(self.session)
        ids = [r["student_id"] for r in records]
        row.present = sorted(set(ids))
        row.lost = sorted(self.scenario.expected - set(ids))
        row.extra = sorted(set(ids) - self.scenario.expected)
        row.duplicates = self.duplicates(ids)
        dropped = self.stack.edge.events("crop_dropped", since_ms=self.started_ms, camera_id=self.camera_id)
        made = self.crop_ids() | {e["msg_id"] for e in dropped if e.get("msg_id")}
        row.crops_lost = len(made - self.answered_ids()) + sum(1 for e in dropped if not e.get("msg_id"))
        if self.fault_start_ms is not None:
            row.downtime_s = round((self.fault_end_ms - self.fault_start_ms) / 1000, 1)
        answered = [e["ts_ms"] for e in self.results(self.fault_end_ms) if e.get("status") != "error"]
        if answered:
            row.first_result_s = round((min(answered) - self.fault_end_ms) / 1000, 1)
        first_recorded: dict[str, int] = {}
        for entry in self.recorded():
            sid = entry.get("student_id")
            first_recorded[sid] = min(first_recorded.get(sid, entry["ts_ms"]), entry["ts_ms"])
        if not row.lost and self.scenario.expected <= set(first_recorded):
            last = max(first_recorded[s] for s in self.scenario.expected)
            row.all_present_s = round(max(0, last - self.fault_end_ms) / 1000, 1)
        row.case_s = round((now_ms() - self.started_ms) / 1000, 1)
        row.rss_mb = {p.name: round(kb / 1024) for p in self.stack.servers if (kb := p.rss_kb()) is not None}
        row.notes = self.notes
        self.row = row
        return row

    def duplicates(self, api_ids: list[str]) -> list[str]:
        """Everything counted twice: API records, crops (msg ids), faces of one frame, sighting counts."""
        found = [f"{sid}: {n} attendance records" for sid, n in Counter(api_ids).items() if n > 1]
        with self.stack.cloud_db() as db:
            counts = {
                r["student_id"]: r["n"]
                for r in db.execute(
                    "SELECT student_id, count(*) AS n FROM sightings WHERE session_id = ? GROUP BY student_id",
                    (self.session,),
                )
            }
            for r in db.execute("SELECT student_id, sightings FROM attendance WHERE session_id = ?", (self.session,)):
                if r["sightings"] != counts.get(r["student_id"], 0):
                    found.append(
                        f"{r['student_id']}: record counts {r['sightings']} sightings, store holds "
                        f"{counts.get(r['student_id'], 0)}"
                    )
            for r in db.execute(
                "SELECT trace_id, student_id, count(*) AS n FROM sightings"
                " WHERE session_id = ? AND trace_id IS NOT NULL GROUP BY trace_id, student_id HAVING n > 1",
                (self.session,),
            ):
                found.append(f"{r['student_id']}: frame {r['trace_id'][:8]} recorded by {r['n']} crops")
            for r in db.execute(
                "SELECT s.sighting_id FROM sightings s JOIN unknown_faces u ON u.msg_id = s.sighting_id"
                " WHERE s.session_id = ?",
                (self.session,),
            ):
                found.append(f"crop {r['sighting_id'][:8]} is both a sighting and an unknown face")
        for msg_id, n in Counter(e.get("msg_id") for e in self.recorded()).items():
            if n > 1:
                found.append(f"crop {str(msg_id)[:8]} recorded {n} times (attendance_recorded)")
        return found

    def check(self, row: Row) -> None:
        assert not row.lost, f"{row.fault}: students lost {row.lost} (present {row.present}; notes {row.notes})"
        assert not row.extra, f"{row.fault}: students present who were never shown: {row.extra}"
        assert not row.duplicates, f"{row.fault}: counted twice: {row.duplicates}"
        assert not row.undelivered, f"{row.fault}: crops pending at the fault never answered: {row.undelivered}"


# --------------------------------------------------------------------------- cases
def test_cloud_kill9_mid_stream(case: Case) -> None:
    """The cloud is killed the moment the edge has sent the first crop (the first two students in
    view, their crops in flight) and restarted at once (same ports, same SQLite data)."""
    stack = case.stack
    case.play()
    case.wait_for("no crop sent", case.crops_sent, timeout=20)
    case.fault_started()
    stack.cloud.kill9()
    stack.cloud.restart()
    case.fault_ended()
    row = case.finish("cloud kill -9", "at the first crop sent; restarted at once")
    case.check(row)


@pytest.mark.parametrize("cloud_mode", ["frozen", "stopped"])
def test_edge_kill9_with_pending_crops(case: Case, cloud_mode: str) -> None:
    """The cloud goes away once the first student is recorded, ``frozen`` (SIGSTOP: crops still
    leave the edge and wait in the frozen cloud's socket) or ``stopped`` (SIGTERM: crops stay at
    the edge), so the next crops cannot be answered; when the second group has left the picture
    the edge is killed and restarted, then the cloud comes back: only crops kept across the
    edge's crash can still mark the second group present."""
    stack = case.stack
    case.play()
    case.wait_for("nobody recorded", case.recorded, timeout=20)
    case.fault_started()
    if cloud_mode == "frozen":
        stack.cloud.freeze()
    else:
        stack.cloud.stop()
    since = now_ms()
    # The second group (4-7 s of video) came and went: 15 frames at 2 frames/s reach 7 s. The
    # edge is back (about 1 s) before the third group (8-11 s) shows up.
    case.wait_for(
        "no crop made while the cloud was away, or the video did not reach 7 s",
        lambda: len(case.crops_made(since)) >= 2 and case.frames_sent() >= 15,
        timeout=25,
    )
    made = len(case.crops_made(since))
    pending = case.crop_ids(since)  # nothing made since the cloud went away can have been answered
    depth = case.outbox_depth()
    stack.edge.kill9()
    stack.edge.restart()
    started = stack.edge.events("edge_started", since_ms=stack.edge.spawned_ms)
    recovered = started[0].get("outbox_recovered") if started else None
    case.notes.append(
        f"{made} crops made while the cloud was {cloud_mode}; outbox held {_fmt(depth, 'n/a')} before the kill, "
        f"{_fmt(recovered, 'n/a')} after the restart"
    )
    if cloud_mode == "frozen":
        stack.cloud.thaw()
    else:
        stack.cloud.start()
    case.fault_ended()
    row = case.finish(
        f"edge kill -9, crops pending (cloud {cloud_mode})",
        f"cloud {'SIGSTOP' if cloud_mode == 'frozen' else 'SIGTERM'} at the first record; edge killed "
        f"{made} crops later and restarted; then the cloud {'thawed' if cloud_mode == 'frozen' else 'started'}",
    )
    row.undelivered = sorted(m[:8] for m in pending - case.answered_ids())
    # The restarted edge must learn the answers too, or its outbox keeps the crops (and their tracks wait).
    assert case.fault_end_ms is not None
    end = case.fault_end_ms
    row.pending = len(pending)
    acks = poll(lambda: (a := case.edge_acks(pending, end)) and len(a) == len(pending) and a, timeout=30)
    if acks:
        row.edge_acked_s = round((max(acks.values()) - end) / 1000, 1)
    case.check(row)
    assert row.edge_acked_s is not None and row.edge_acked_s <= EDGE_ACK_BOUND_S, (
        f"{row.fault}: the restarted edge got answers for {len(case.edge_acks(pending, end))} of the "
        f"{len(pending)} crops pending at the kill after {_fmt(row.edge_acked_s, 'never (30 s)')} s "
        f"(bound {EDGE_ACK_BOUND_S:g} s); edge log: result_received / crop_resent"
    )


def test_rekognition_kill9(case: Case) -> None:
    """Rekognition is killed once the first student is recorded and stays down until a crop has
    failed on it (the cloud answers ``error``) and the second group has left the picture (8 s of
    video), then restarted on the same data."""
    stack = case.stack
    case.play()
    case.wait_for("nobody recorded", case.recorded, timeout=20)
    case.fault_started()
    stack.rekognition.kill9()
    killed_ms = now_ms()
    case.wait_for(
        "no crop failed while Rekognition was down, or the video did not reach 8 s",
        lambda: [e for e in case.results(killed_ms) if e.get("status") == "error"] and case.frames_sent() >= 16,
        timeout=25,
    )
    stack.rekognition.restart()
    case.fault_ended()
    failed = [e for e in case.results(killed_ms) if e.get("status") == "error" and e["ts_ms"] <= case.fault_end_ms]
    case.notes.append(f"{len(failed)} crops answered error while Rekognition was down")
    row = case.finish("Rekognition kill -9", "at the first record; restarted at 8 s of video, after a crop failed")
    case.check(row)


def test_camera_kill9_and_restart(case: Case) -> None:
    """The camera is killed while the second group is in view (10 frames: 5 s of video) and
    started again: it replays the video from the start (camera time goes back to 0)."""
    case.play()
    camera = case.camera
    assert camera is not None
    case.wait_for("the camera did not reach 5 s of video", lambda: case.frames_sent() >= 10, timeout=20)
    case.fault_started()
    camera.kill9()
    camera.restart()
    case.fault_ended()
    row = case.finish("IoT camera kill -9", "at 5 s of video; restarted (replays from the start)")
    case.check(row)


@pytest.mark.parametrize("mode", ["frozen", "stopped"])
def test_cloud_unreachable_30s(case: Case, mode: str) -> None:
    """The cloud is unreachable for 30 s from the first record on: ``frozen`` (SIGSTOP: the TCP
    connection stays up, nothing is read or answered) or ``stopped`` (SIGTERM, connection refused),
    then back. The 11 s video ends during the outage: every student after the first must come from
    crops the edge kept."""
    stack = case.stack
    case.play()
    case.wait_for("nobody recorded", case.recorded, timeout=20)
    case.fault_started()
    if mode == "frozen":
        stack.cloud.freeze()
    else:
        stack.cloud.stop()
    deadline = time.monotonic() + OUTAGE_S
    while time.monotonic() < deadline:
        time.sleep(0.5)  # the fault's deliberate duration
    if mode == "frozen":
        stack.cloud.thaw()
    else:
        stack.cloud.start()
    case.fault_ended()
    row = case.finish(
        f"cloud unreachable 30 s ({mode})",
        "SIGSTOP at the first record, SIGCONT 30 s later"
        if mode == "frozen"
        else "SIGTERM at the first record, started 30 s later",
    )
    case.check(row)


def test_cloud_down_across_the_end_of_class(case: Case) -> None:
    """The class ends while the cloud is down: the session is scheduled to end CLASS_S after the
    case starts, the cloud is stopped at the first record and started again only after that end.
    The crops the edge kept from the class must count in it (filed late, ``crop_late``), not be
    answered ``no_open_session`` and lost."""
    stack = case.stack
    stack.close_session(case.session)
    ends = datetime.now(UTC) + timedelta(seconds=CLASS_S)
    body = {"classroom_id": case.classroom, "name": f"faults {case.name}", "ends_at": ends.isoformat()}
    case.session = str(stack.cloud_post("/api/sessions", body)["session_id"])
    camera = case.play()
    case.wait_for("nobody recorded", case.recorded, timeout=20)
    case.fault_started()
    stack.cloud.stop()
    case.wait_for("the video did not end", lambda: not camera.alive, timeout=CLASS_S)
    assert datetime.now(UTC) < ends, "the video outlasted the class: the case cannot tell late from lost crops"
    while datetime.now(UTC) < ends + timedelta(seconds=1):
        time.sleep(0.5)  # the class ends while the cloud is down
    stack.cloud.start()
    case.fault_ended()
    row = case.finish(
        "cloud down across the end of class",
        f"SIGTERM at the first record; the class ended {CLASS_S:g} s after the case started; "
        "the cloud started 1 s after it",
    )
    assert case.fault_end_ms is not None
    late = stack.cloud.events("crop_late", since_ms=case.fault_end_ms, session_id=case.session)
    case.notes.append(f"{len(late)} crops filed late in the ended session")
    case.check(row)
    assert late, "no crop was filed late: the outage did not span the end of the class"


# --------------------------------------------------------------------------- report
def _src_state() -> str:
    """Commit of the code under test, and whether src/ had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    import edge

    src = Path(edge.__file__).resolve().parents[1]  # the tier subprocesses inherit this import path
    if src != REPO / "src":
        return f"tiers imported from {src} (not this working tree; tests at commit {commit or '?'})"
    return f"commit {commit or '?'}{' with uncommitted changes in src/' if dirty else ''}"


def _fmt(value: float | None, never: str = "never") -> str:
    return never if value is None else f"{value:g}"


def _unanswered(row: Row) -> str:
    text = _fmt(row.crops_lost, "?")
    if row.undelivered:
        text += f" (pending at the fault: {', '.join(row.undelivered)})"
    if row.pending:
        text += f"; {row.pending} pending at the kill, all answered at the edge after {_fmt(row.edge_acked_s)} s"
    return text


def write_report(rows: list[Row]) -> None:
    lines = [
        "# Fault injection: the real tiers, one fault each",
        "",
        "Produced by `./scripts/test.sh tests/faults` (tests/faults/test_faults.py; the last run wrote this file).",
        f"Each case plays the `{SCENARIO}` evaluation scenario (6 of 8 enrolled students shown, two at a time,",
        f"11 s of video) once with a real `rollcall-iot` camera at {FPS:g} frames/s into a real edge, cloud and local",
        "Rekognition service on loopback (tests/faults/stack.py), injects the fault while students are in view,",
        "and reads the session's attendance through the cloud API and its SQLite store. *Lost*: shown but not",
        "present; *extra*: present but never shown; *duplicates*: anything counted twice (attendance records,",
        "a crop's msg id, one frame's face under two crops, a record's sighting count). *Downtime*: fault start",
        "to end (process healthy again / thawed). *First result* and *all present*: seconds from the fault's end",
        "to the cloud's first answer for the camera and to the last expected student's first record (0: all were",
        "present before the fault ended). *Crops unanswered*: crops the edge made (or dropped) for the camera that",
        "the cloud never answered, reported only; in the edge cases the crops pending when the edge was killed",
        "must all be answered by the cloud (listed when not) and the restarted edge must hold an answer for each",
        f"within {EDGE_ACK_BOUND_S:g} s of the fault's end, or the case fails.",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {_src_state()}, {os.cpu_count()} cores.",
        "",
        "| Fault | How | Expected | Present | Lost | Extra | Duplicates | Crops unanswered | Downtime s "
        "| First result s | All present s | Case s | Result |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.fault} | {r.how} | {len(r.expected)} | {len(r.present)} | {', '.join(r.lost) or '-'} "
            f"| {', '.join(r.extra) or '-'} | {'; '.join(r.duplicates) or '-'} | {_unanswered(r)} "
            f"| {_fmt(r.downtime_s, '-')} "
            f"| {_fmt(r.first_result_s)} | {_fmt(r.all_present_s)} | {_fmt(r.case_s, '-')} "
            f"| {'pass' if r.passed else '**FAIL**'} |"
        )
    lines += ["", "Notes and resident memory (MB) of the servers after each case:", ""]
    for r in rows:
        rss = ", ".join(f"{k} {v:g}" for k, v in r.rss_mb.items())
        lines.append(f"- {r.fault}: {'; '.join(r.notes) or 'no notes'}. RSS: {rss or 'n/a'}.")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
