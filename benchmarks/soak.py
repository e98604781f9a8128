"""Soak: does any tier's memory grow when the whole pipeline runs for a long time? (a benchmark, not a test)

The real processes on loopback (tests/faults/stack.py): the local Rekognition service, the cloud,
the edge and one IoT process running 8 looping cameras (as ``docker compose --profile load`` does
with ``ROLLCALL_IOT_REPLICATE``, here 8 different sources through ``ROLLCALL_IOT_CAMERAS``): six
videos of ../shared/assets/video and two folders of photos of the 8 enrolled students, in four
classrooms with open sessions, so crops are searched, recognised and recorded all along.

Every ``--interval`` seconds (10) it samples each process's resident memory (``VmRSS``) and CPU
time and the pipeline's counters (IoT ``sent``; edge frames, crops, RESULTs; cloud crops, RESULTs,
attendance). After ``--warmup-minutes`` (2) it compares, per tier, the first sample with the last
and with the maximum, and fits a line through the samples: a tier passes when its RSS is flat within
5 % (last vs first, and the fitted line's change over the run). Writes ``<out>.md`` and
``<out>.json`` (default res/soak.md, res/soak.json).

    ROLLCALL_EDGE_MODELS_DIR=models .venv/bin/python benchmarks/soak.py --minutes 30

Takes the whole machine (2 cores here) for the duration; exit status 1 when a tier is not flat or
a process died.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.faults.stack: the process launcher shared with the fault tests

from tests.faults.stack import Stack, TierProcess, default_models_dir  # noqa: E402

ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))
FLAT_PCT = 5.0
CLASSROOMS = ("soak-room-1", "soak-room-2", "soak-room-3", "soak-room-4")
#: camera name -> video of ../shared/assets/video
VIDEOS = {
    "classroom": "classroom.gif",
    "walking": "face-demographics-walking.gif",
    "walking-pause": "face-demographics-walking-and-pause.gif",
    "head-pose": "head-pose-face-detection-female-and-male.gif",
    "people": "people-detection.gif",
    "one-by-one": "one-by-one-person-detection.mp4",
}
#: Photos of enrolled students (and a stranger) for the two photo-folder cameras.
PHOTO_FOLDERS = {
    "photos-a": (
        "probe/obama1.jpg",
        "probe/test_guido_van_rossum.jpg",
        "probe/test_steve_wozniak.jpg",
        "probe/kit_with_rose.jpg",
        "probe/test_unknown_elon_musk.jpg",
    ),
    "photos-b": (
        "probe/test_paul_allen.jpg",
        "probe/alex_lacamoire1.jpg",
        "probe/obama_and_biden.jpg",
        "probe/johnsnow_test1.jpg",
        "probe/two_people.jpg",
    ),
}
#: Counters summed for the throughput table: (label, tier, counter names tried in order).
THROUGHPUT = (
    ("frames sent by the cameras", "iot", ("sent",)),
    ("frames received by the edge", "edge", ("frames_received",)),
    ("frames processed by the edge", "edge", ("frames_processed",)),
    ("frames dropped by the edge's buffer", "edge", ("frames_dropped_buffer",)),
    ("face crops sent by the edge", "edge", ("crops_transmitted", "crops_sent")),
    ("face crops received by the cloud", "cloud", ("crops_received",)),
    ("RESULTs sent by the cloud", "cloud", ("results_sent",)),
    ("RESULTs received by the edge", "edge", ("results_received",)),
    ("recognised", "cloud", ("results_recognised",)),
    ("attendance sightings recorded", "cloud", ("attendance_recorded",)),
    ("unknown faces stored", "cloud", ("unknown_stored",)),
)


@dataclass
class Sample:
    t_s: float
    rss_kb: dict[str, int | None]
    cpu_s: dict[str, float | None]
    counters: dict[str, dict[str, int]]


@dataclass
class Soak:
    started: str
    minutes: float
    warmup_minutes: float
    interval_s: float
    fps: float
    cameras: list[dict[str, Any]]
    commit: str = ""
    samples: list[Sample] = field(default_factory=list)
    died: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the stack
def photo_folders(work: Path, repeat: int = 1) -> dict[str, Path]:
    """The photo-folder cameras' folders: each photo ``repeat`` times in a row (at 1 image a
    second, a person in view for ``repeat`` seconds), as symlinks into the shared assets."""
    folders = {}
    for name, photos in PHOTO_FOLDERS.items():
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, relative in enumerate(photos):
            target = ASSETS / "faces" / relative
            for r in range(max(1, repeat)):
                (folder / f"{i:02d}-{r:02d}{target.suffix}").symlink_to(target)
        folders[name] = folder
    return folders


def camera_list(work: Path, fps: float) -> list[dict[str, Any]]:
    sources = [str(ASSETS / "video" / v) for v in VIDEOS.values()] + [str(p) for p in photo_folders(work).values()]
    names = [*VIDEOS, *PHOTO_FOLDERS]
    return [
        {
            "camera_id": f"soak-{i + 1}-{name}",
            "classroom_id": CLASSROOMS[i % len(CLASSROOMS)],
            "source": source,
            "loop": True,
            "fps": fps,
        }
        for i, (name, source) in enumerate(zip(names, sources, strict=True))
    ]


def cpu_seconds(proc: TierProcess) -> float | None:
    """User + system CPU seconds of the process (``/proc/<pid>/stat``)."""
    if not proc.alive:
        return None
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Counters:
    """The latest ``metrics`` log line's counters per process (lines read are forgotten: long runs)."""

    def __init__(self) -> None:
        self.last: dict[str, dict[str, int]] = {}

    def read(self, proc: TierProcess) -> dict[str, int]:
        lines = proc.events("metrics")
        proc.log.forget()
        if lines:
            self.last[proc.name] = dict(lines[-1].get("counters", {}))
        return dict(self.last.get(proc.name, {}))


def sample(stack: Stack, iot: TierProcess, t0: float, counters: Counters) -> Sample:
    procs = {"rekognition": stack.rekognition, "cloud": stack.cloud, "edge": stack.edge, "iot": iot}
    try:
        cloud = dict(stack.metrics()["service"]["counters"])
    except (OSError, KeyError, ValueError, RuntimeError):  # a slow answer: this sample has no cloud counters
        cloud = {}
    return Sample(
        t_s=round(time.monotonic() - t0, 1),
        rss_kb={name: p.rss_kb() for name, p in procs.items()},
        cpu_s={name: cpu_seconds(p) for name, p in procs.items()},
        counters={"iot": counters.read(iot), "edge": counters.read(stack.edge), "cloud": cloud},
    )


def run(args: argparse.Namespace, work: Path) -> Soak:
    soak = Soak(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        minutes=args.minutes,
        warmup_minutes=args.warmup_minutes,
        interval_s=args.interval,
        fps=args.fps,
        cameras=camera_list(work, args.fps),
        commit=git_commit(),
    )
    with Stack(work / "stack", models_dir=args.models_dir, metrics_interval_s=args.interval / 2) as stack:
        print(f"[soak] starting the stack in {work}", flush=True)
        stack.start()
        enrolled = stack.enrol_dir(ASSETS / "faces" / "enroll")
        print(f"[soak] enrolled {sum(enrolled.values())} photos of {len(enrolled)} students", flush=True)
        for classroom in CLASSROOMS:
            stack.open_session(classroom, name="soak")
        iot = stack.camera(
            "soak-iot",
            source=soak.cameras[0]["source"],
            classroom_id=CLASSROOMS[0],
            fps=args.fps,
            loop=True,
            env={"ROLLCALL_IOT_CAMERAS": json.dumps(soak.cameras), "ROLLCALL_IOT_FRAME_LOG_LEVEL": "DEBUG"},
        )
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        counters = Counters()
        print(f"[soak] {len(soak.cameras)} cameras at {args.fps} fps for {args.minutes:g} min", flush=True)
        try:
            sample_until(soak, stack, iot, t0, end, counters)
        except KeyboardInterrupt:  # Ctrl-C: report what was sampled
            soak.notes.append(f"Interrupted after {time.monotonic() - t0:.0f} s.")
    return soak


def sample_until(soak: Soak, stack: Stack, iot: TierProcess, t0: float, end: float, counters: Counters) -> None:
    """Sample every ``soak.interval_s`` until ``end`` (monotonic) or until a process dies."""
    while True:
        s = sample(stack, iot, t0, counters)
        soak.samples.append(s)
        dead = {p.name: p.returncode for p in (*stack.servers, iot) if not p.alive}
        if dead:
            soak.died = dead
            print(f"[soak] process(es) died: {dead}", flush=True)
            return
        if len(soak.samples) % 6 == 1:
            rss = " ".join(f"{k}={v // 1024 if v else '-'}MB" for k, v in s.rss_kb.items())
            print(f"[soak] t={s.t_s:.0f}s {rss}", flush=True)
        now = time.monotonic()
        if now >= end:
            return
        time.sleep(max(0.0, min(t0 + len(soak.samples) * soak.interval_s, end) - now))  # the sampling period


# --------------------------------------------------------------------------- analysis
def fit_change(points: list[tuple[float, float]]) -> float:
    """Change over the run of the least-squares line through ``points`` (x, y)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope * (points[-1][0] - points[0][0])


def measured(soak: Soak) -> list[Sample]:
    """Samples from the end of the warm-up on (the last sample before it included, as the baseline)."""
    warmup_s = soak.warmup_minutes * 60
    after = [s for s in soak.samples if s.t_s >= warmup_s]
    return after if len(after) >= 2 else soak.samples[-2:]


def rss_table(soak: Soak) -> dict[str, dict[str, Any]]:
    window = measured(soak)
    tiers: dict[str, dict[str, Any]] = {}
    for tier in ("rekognition", "cloud", "edge", "iot"):
        points = [(s.t_s, float(s.rss_kb[tier])) for s in window if s.rss_kb.get(tier)]
        if len(points) < 2:
            tiers[tier] = {"pass": False, "detail": "no samples"}
            continue
        first, last = points[0][1], points[-1][1]
        peak = max(y for _, y in points)
        growth = 100 * (last - first) / first
        trend = 100 * fit_change(points) / first
        cpu = [s.cpu_s.get(tier) for s in window]
        cpu_pct = None
        if cpu[0] is not None and cpu[-1] is not None and window[-1].t_s > window[0].t_s:
            cpu_pct = round(100 * (cpu[-1] - cpu[0]) / (window[-1].t_s - window[0].t_s), 1)
        start = soak.samples[0].rss_kb.get(tier)
        tiers[tier] = {
            "start_mb": None if start is None else round(start / 1024, 1),
            "first_mb": round(first / 1024, 1),
            "last_mb": round(last / 1024, 1),
            "max_mb": round(peak / 1024, 1),
            "min_mb": round(min(y for _, y in points) / 1024, 1),
            "growth_pct": round(growth, 2),
            "max_over_first_pct": round(100 * (peak - first) / first, 2),
            "trend_pct": round(trend, 2),
            "cpu_pct": cpu_pct,
            "pass": growth <= FLAT_PCT and trend <= FLAT_PCT,  # a soak looks for growth; a drop is no leak
        }
    return tiers


def counter(sample: Sample, tier: str, names: Iterable[str]) -> int | None:
    values = sample.counters.get(tier, {})
    for name in names:
        if name in values:
            return int(values[name])
    return None


def throughput(soak: Soak) -> list[dict[str, Any]]:
    window = measured(soak)
    first, last = window[0], window[-1]
    minutes = max((last.t_s - first.t_s) / 60, 1e-9)
    rows = []
    for label, tier, names in THROUGHPUT:
        total = counter(last, tier, names)
        start = counter(first, tier, names)
        delta = None if total is None or start is None else total - start
        rows.append(
            {
                "what": label,
                "tier": tier,
                "counter": next((n for n in names if n in last.counters.get(tier, {})), names[0]),
                "whole_run": total,
                "measured": delta,
                "per_minute": None if delta is None else round(delta / minutes, 1),
            }
        )
    return rows


# --------------------------------------------------------------------------- report
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def machine() -> str:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPU ({model}), {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write_report(soak: Soak, out: Path, command: str) -> bool:
    tiers = rss_table(soak)
    rows = throughput(soak)
    ok = not soak.died and all(t["pass"] for t in tiers.values())
    window = measured(soak)
    measured_min = (window[-1].t_s - window[0].t_s) / 60 if window else 0.0
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "verdict": "pass" if ok else "fail",
        "flat_pct": FLAT_PCT,
        "machine": machine(),
        "command": command,
        "measured_minutes": round(measured_min, 2),
        "rss": tiers,
        "throughput": rows,
        **{k: v for k, v in asdict(soak).items() if k != "samples"},
        "samples": [asdict(s) for s in soak.samples],
    }
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    lines = [
        "# Soak: memory of every tier over a long run",
        "",
        f"`{command}`, started {soak.started}, commit {soak.commit}, {data['machine']}.",
        "",
        f"The real processes on loopback (tests/faults/stack.py): local Rekognition, cloud, edge and one IoT process "
        f"with {len(soak.cameras)} looping cameras at {soak.fps:g} frame/s each (6 videos of the shared assets, "
        f"2 folders of photos of the 8 enrolled students, {len(CLASSROOMS)} classrooms with open sessions). "
        f"Run {soak.minutes:g} min; the first {soak.warmup_minutes:g} min are warm-up and not judged, so "
        f"{measured_min:.1f} min are measured, sampled every {soak.interval_s:g} s "
        f"({len(window)} samples). A tier passes when its RSS does not grow by more than {FLAT_PCT:g} %: the "
        "last sample against the first, and the change of the least-squares line through all samples (a drop "
        "passes: the soak looks for leaks).",
        "",
        f"**Verdict: {'PASS' if ok else 'FAIL'}**" + (f" (process died: {soak.died})" if soak.died else ""),
        "",
        "| Tier | RSS at start (MB) | first after warm-up | last | max | growth | max over first | fitted trend "
        "| CPU | flat |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tier, t in tiers.items():
        if "first_mb" not in t:
            lines.append(f"| {tier} | - | - | - | - | - | - | - | - | no ({t['detail']}) |")
            continue
        cpu = "-" if t["cpu_pct"] is None else f"{t['cpu_pct']:g} %"
        lines.append(
            f"| {tier} | {t['start_mb'] or '-'} | {t['first_mb']:g} | {t['last_mb']:g} | {t['max_mb']:g} | "
            f"{t['growth_pct']:+.2f} % | "
            f"{t['max_over_first_pct']:+.2f} % | {t['trend_pct']:+.2f} % | {cpu} | {'yes' if t['pass'] else 'NO'} |"
        )
    lines += [
        "",
        "RSS at start: the first sample, right after the cameras started (models loaded, nothing processed "
        "yet). CPU: share of one core over the measured window. Throughput (IoT and edge counters from their "
        "periodic `metrics` log line, up to half a sampling interval old; cloud counters from `GET /api/metrics`):",
        "",
        "| What | Counter | Whole run | Measured window | Per minute |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
        lines.append(
            f"| {r['what']} | {r['tier']} `{r['counter']}` | {fmt(r['whole_run'])} | {fmt(r['measured'])} | "
            f"{fmt(r['per_minute'])} |"
        )
    lines += ["", "Cameras:", ""]
    lines += [f"- `{c['camera_id']}` ({c['classroom_id']}): `{Path(c['source']).name}`" for c in soak.cameras]
    lines += [*(f"\n{note}" for note in soak.notes), "", f"Samples: `{out.with_suffix('.json').name}`.", ""]
    out.with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    return ok


def shell_args(argv: list[str]) -> list[str]:
    """The command line for the report, without ``--note`` texts."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run, warm-up included (30)")
    parser.add_argument("--warmup-minutes", type=float, default=2.0, help="not judged (2)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (10)")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second of each camera (1)")
    parser.add_argument("--out", type=Path, default=REPO / "res" / "soak", help="report path without suffix")
    parser.add_argument("--models-dir", type=Path, default=default_models_dir())
    parser.add_argument("--workdir", type=Path, help="keep the stack's logs and data here (default: a temp dir)")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report")
    args = parser.parse_args(argv)
    if args.minutes <= args.warmup_minutes:
        parser.error("--minutes must be longer than --warmup-minutes")
    for needed in ("faces/enroll", *(f"video/{v}" for v in VIDEOS.values())):
        if not (ASSETS / needed).exists():
            parser.error(f"missing asset {ASSETS / needed} (set ROLLCALL_ASSETS_DIR)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rollcall-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    command = " ".join(["benchmarks/soak.py", *shell_args(argv if argv is not None else sys.argv[1:])])
    try:
        soak = run(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    soak.notes.extend(args.note)
    ok = write_report(soak, args.out, command.strip())
    print(args.out.with_suffix(".md").read_text(encoding="utf-8"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
