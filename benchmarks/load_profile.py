"""Load profile: how many 1-fps cameras one edge sustains, and where the end-to-end time goes.

    ROLLCALL_EDGE_MODELS_DIR=models .venv/bin/python benchmarks/load_profile.py --cameras 4 8 12 16 20

For each camera count, a fresh stack of the real tiers as local processes on loopback
(tests/faults/stack.py: local Rekognition, cloud, edge) and one IoT process running that many
looping 1-fps cameras (``ROLLCALL_IOT_CAMERAS``, as ``docker compose --profile load`` does; started
staggered over one frame interval, the IoT's default, unless ``--iot-env`` says otherwise): the
videos of ../shared/assets/video and folders of photos of the enrolled students, over 4
classrooms with open sessions, so crops are searched and attendance is recorded all along.
After ``--warmup`` seconds, ``--seconds`` of frames are measured from the JSON logs (per-hop
``ts`` stamps, the same data src/analysis reads):
- frame latency: captured -> detect_end (every frame the edge processed);
- end to end (the issue's metric, capture to the attendance row): captured -> recorded of every
  crop stored as an attendance sighting (a recognised student), ``end_to_end_attendance``; beside
  it every crop the cloud stored (sightings, unknown faces, evidence of faces too small to search),
  ``end_to_end`` (all crops);
- edge -> cloud split (``ts.edge_queued``): held by the crop policy (detect_end -> edge_queued:
  a track's best crop kept while its previous crop waits for a RESULT, or for the retry backoff),
  outbox wait (edge_queued -> edge_sent) and transport (edge_sent -> cloud_received);
- per hop p50: IoT, network, buffer wait, detection and faces (the edge's inference_ms / face_ms
  timings), edge -> cloud, cloud queue, Rekognition (the cloud's call timing), store;
- frames dropped by the edge's buffer over the measured seconds (and over the whole run), each tier's RSS every 2 s, and the CPU each tier used
  over the measured seconds (cores, its process pools included: :func:`tree_cpu_s`);
- cost (whole run): Rekognition calls per student present in a session, edge -> cloud bytes as a
  share of IoT -> edge bytes, and the recognition crops by kind of camera (:func:`cost`).
A camera count is sustained when p95 captured -> attendance row < 1 s, p95 frame latency < 1 s
and under 5 % of frames are dropped (``sustained_all_crops``: the same with every stored crop). Writes JSON for benchmarks/report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from analysis.compute import latency_samples  # noqa: E402
from analysis.loader import load_run  # noqa: E402
from benchmarks.soak import CLASSROOMS, VIDEOS, photo_folders  # noqa: E402
from common.metrics import percentile  # noqa: E402
from common.keys_cli import generate as generate_keys  # noqa: E402
from common.keys_install import install  # noqa: E402
from tests.faults.stack import EDGE_NAME, Stack  # noqa: E402

ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))
#: (name, from hop, to hop) of the per-hop breakdown read from the ``ts`` stamps.
HOPS = (
    ("iot", "captured", "sent"),
    ("network_iot_edge", "sent", "edge_received"),
    ("buffer_wait", "edge_received", "detect_start"),
    ("detection_and_faces", "detect_start", "detect_end"),
    ("edge_to_cloud", "detect_end", "cloud_received"),
    ("held_by_crop_policy", "detect_end", "edge_queued"),
    ("outbox_wait", "edge_queued", "edge_sent"),
    ("transport_edge_cloud", "edge_sent", "cloud_received"),
    ("queued_to_recorded", "edge_queued", "recorded"),
    ("cloud_and_rekognition", "cloud_received", "recognised"),
    ("store", "recognised", "recorded"),
    ("frame_latency", "captured", "detect_end"),
    ("end_to_end", "captured", "recorded"),
)


def stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"n": len(values), "p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "mean": statistics.fmean(values)}


def cameras_for(n: int, work: Path, photo_seconds: int = 1) -> list[dict[str, Any]]:
    videos = [str(ASSETS / "video" / v) for v in VIDEOS.values()]
    photos = [str(p) for p in photo_folders(work, repeat=photo_seconds).values()]
    # Enrolled students are only in the photo folders: one among the first four cameras, the other
    # fifth, so attendance rows are recorded at every camera count.
    sources = [videos[0], photos[0], videos[1], videos[2], photos[1], *videos[3:]]
    return [
        {"camera_id": f"load-{i + 1}", "classroom_id": CLASSROOMS[i % len(CLASSROOMS)], "source": sources[i % len(sources)],
         "loop": True, "fps": 1.0}
        for i in range(n)
    ]


def attendance_e2e(logs: Any) -> tuple[list[float], list[float]]:
    """captured -> recorded of every crop stored as an attendance sighting (``attendance_recorded``:
    a recognised student's row), and the part of it the crop policy held the crop back."""
    e2e, held = [], []
    for event in logs.of("attendance_recorded"):
        ts = event.get("ts") or {}
        if "captured" in ts and "recorded" in ts:
            e2e.append(float(ts["recorded"] - ts["captured"]))
            if "edge_queued" in ts and "detect_end" in ts:
                held.append(float(ts["edge_queued"] - ts["detect_end"]))
    return e2e, held


def held_by_attempt(logs: Any) -> dict[str, list[float]]:
    """The crop policy's hold (``crop_queued``'s ``held_ms``) of a track's first recognition crop
    and of its later attempts (retries after unknown / no_face / unconfirmed, sent with backoff)."""
    held: dict[str, list[float]] = {"first_crop": [], "later_attempts": []}
    for event in logs.of("crop_queued"):
        if event.get("purpose") == "recognition" and isinstance(event.get("held_ms"), int):
            held["first_crop" if event.get("crop_n") == 1 else "later_attempts"].append(float(event["held_ms"]))
    return held


def last_metrics(logs: Any) -> dict[str, dict[str, Any]]:
    """The last ``metrics`` log line of each tier (counters are cumulative; timings a recent window)."""
    last: dict[str, dict[str, Any]] = {}
    for event in logs.of("metrics"):
        last[str(event.get("tier"))] = event
    return last


def metrics_at(logs: Any, tier: str, at_ms: float) -> dict[str, Any]:
    """The last ``metrics`` line of ``tier`` written at or before ``at_ms`` (empty: none yet)."""
    found: dict[str, Any] = {}
    for event in logs.of("metrics", tier=tier):
        if event.get("ts_ms", 0) <= at_ms:
            found = event
    return found


def timing_p50(metrics: dict[str, dict[str, Any]], tier: str, name: str) -> float | None:
    value = (metrics.get(tier, {}).get("timings") or {}).get(name)
    return value.get("p50") if isinstance(value, dict) else None


def counters(metrics: dict[str, dict[str, Any]], tier: str) -> dict[str, float]:
    return dict(metrics.get(tier, {}).get("counters") or {})


def cost(logs: Any, metrics: dict[str, dict[str, Any]], present: int, cams: list[dict[str, Any]]) -> dict[str, Any]:
    """Rekognition calls per present student (over the whole run, warm-up included: every session
    was opened with it), edge -> cloud bytes as a share of IoT -> edge bytes (the edge's
    ``crop_bytes_transmitted``, resends included, against the cameras' ``frame_sent`` bytes), and
    the recognition crops the edge queued by kind of camera (where the demand comes from)."""
    calls = int(counters(metrics, "cloud").get("rekognition_calls_search_faces_by_image", 0))
    kind = {c["camera_id"]: "photo folders" if Path(c["source"]).is_dir() else "videos" for c in cams}
    demand = {"photo folders": 0, "videos": 0}
    for e in logs.of("crop_queued"):
        if e.get("purpose") == "recognition" and e.get("camera_id") in kind:
            demand[kind[e["camera_id"]]] += 1
    iot_bytes = sum(int(e.get("bytes") or 0) for e in logs.of("frame_sent"))
    edge_bytes = int(counters(metrics, "edge").get("crop_bytes_transmitted", 0))
    return {
        "rekognition_calls": calls,
        "present_students": present,
        "calls_per_present": round(calls / present, 2) if present else None,
        "iot_to_edge_bytes": iot_bytes,
        "edge_to_cloud_bytes": edge_bytes,
        "edge_to_cloud_bytes_ratio": round(edge_bytes / iot_bytes, 4) if iot_bytes else None,
        "recognition_crops_by_camera_kind": demand,
    }


def tree_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a process and its live descendants (e.g. a tier's process
    pools), from /proc; None when the process is gone."""
    if pid is None:
        return None
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    if pid not in times:
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times[p] for p in tree)


def run_level(n: int, root: Path, warmup: float, seconds: float, edge_env: dict[str, str],
              keep: Path | None = None, photo_seconds: int = 1, iot_env: dict[str, str] | None = None) -> dict[str, Any]:
    work = root / f"cameras-{n}"
    work.mkdir(parents=True)
    level: dict[str, Any] = {"cameras": n, "rss_mb": [], "edge_env": edge_env, "iot_env": iot_env or {},
                             "photo_seconds": photo_seconds}
    with Stack(work / "stack", metrics_interval_s=5.0, edge_env=edge_env) as stack:
        stack.start()
        stack.enrol_dir(ASSETS / "faces" / "enroll")
        sessions = [stack.open_session(classroom, name="load") for classroom in CLASSROOMS]
        cams = cameras_for(n, work, photo_seconds)
        keys_env: dict[str, str] = {}
        if stack.transport == "curve":  # register every camera; the one IoT process gets all their keys
            generate_keys(stack.keys_dir, [(c["camera_id"], c["classroom_id"], EDGE_NAME) for c in cams])
            keys_env["ROLLCALL_IOT_KEYS_DIR"] = str(install(stack.keys_dir / "bundles", f"camera-load-*={work / 'iot-keys'}"))
        iot = stack.camera("load-iot", source=cams[0]["source"], classroom_id=CLASSROOMS[0], fps=1.0, loop=True,
                           env={"ROLLCALL_IOT_CAMERAS": json.dumps(cams), "ROLLCALL_IOT_FRAME_LOG_LEVEL": "INFO", **keys_env,
                                **(iot_env or {})})
        t0 = time.time()
        tiers = {"iot": iot, "edge": stack.edge, "cloud": stack.cloud, "rekognition": stack.rekognition}
        cpu_start: dict[str, float | None] | None = None
        while time.time() < t0 + warmup + seconds:
            if cpu_start is None and time.time() >= t0 + warmup:
                cpu_start = {name: tree_cpu_s(p.pid) for name, p in tiers.items()}
            rss = {name: p.rss_kb() for name, p in (("edge", stack.edge), ("cloud", stack.cloud), ("rekognition", stack.rekognition))}
            level["rss_mb"].append({"t_s": round(time.time() - t0, 1), **{k: (v or 0) / 1024 for k, v in rss.items()}})
            time.sleep(2.0)
        cpu_end = {name: tree_cpu_s(p.pid) for name, p in tiers.items()}
        measured_s = time.time() - t0 - warmup
        level["cpu_cores"] = {
            name: round((cpu_end[name] - start) / measured_s, 3)
            for name, start in (cpu_start or {}).items() if start is not None and cpu_end[name] is not None
        }
        iot.stop()
        time.sleep(6.0)  # the last crops reach the cloud; the next metrics line is written
        level["present_students"] = sum(len({r["student_id"] for r in stack.attendance(s)}) for s in sessions)
    if keep is not None:
        shutil.copytree(work / "stack", keep / f"cameras-{n}", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("keys", "data", "*.sqlite3*", "*.jpg"))
    logs = load_run(work / "stack")
    start_ms = (t0 + warmup) * 1000
    end_ms = (t0 + warmup + seconds) * 1000
    logs.events = [e for e in logs.events if not isinstance(e.get("ts"), dict) or start_ms <= e["ts"].get("captured", 0) < end_ms]
    samples = latency_samples(logs, tuple((name, a, b) for name, a, b in HOPS))
    level["hops_ms"] = {name: stats(v) for name, v in samples.items()}
    rows, rows_held = attendance_e2e(logs)
    level["hops_ms"]["end_to_end_attendance"] = stats(rows)
    level["hops_ms"]["attendance_held_by_crop_policy"] = stats(rows_held)
    for name, values in held_by_attempt(logs).items():
        level["hops_ms"][f"held_{name}"] = stats(values)
    held = samples.get("held_by_crop_policy") or []
    level["crops_held_over_100ms"] = sum(1 for v in held if v > 100)
    level["crops_queued"] = len(held)
    metrics = last_metrics(load_run(work / "stack"))
    level["edge_inference_ms_p50"] = timing_p50(metrics, "edge", "inference_ms")
    level["edge_face_ms_p50"] = timing_p50(metrics, "edge", "face_ms")
    level["rekognition_call_ms_p50"] = timing_p50(metrics, "cloud", "rekognition_search_faces_by_image_ms")
    gauges = dict(metrics.get("edge", {}).get("gauges") or {})
    level["detector_frames"] = {m: gauges.get(f"detector_frames_{m}") for m in ("full", "regions", "skipped")}
    level["cloud_counters"] = counters(metrics, "cloud")
    level["run_s"] = warmup + seconds
    level["cost"] = cost(load_run(work / "stack"), metrics, level["present_students"], cams)
    # frames received and dropped over the measured seconds (counters of the edge's metrics lines,
    # every 5 s: the last line before the window against the last one), as the latencies are;
    # the whole run, warm-up (models loading, worker processes starting) included, beside them
    edge_counters = counters(metrics, "edge")
    before = dict(metrics_at(load_run(work / "stack"), "edge", start_ms).get("counters") or {})
    level["frames_received"] = edge_counters.get("frames_received", 0) - before.get("frames_received", 0)
    level["frames_dropped"] = sum(
        v - before.get(k, 0) for k, v in edge_counters.items() if k.startswith("frames_dropped")
    )
    level["frames_dropped_whole_run"] = sum(v for k, v in edge_counters.items() if k.startswith("frames_dropped"))
    level["frames_received_whole_run"] = edge_counters.get("frames_received", 0)
    level["drop_share"] = level["frames_dropped"] / level["frames_received"] if level["frames_received"] else None
    e2e, frame = level["hops_ms"].get("end_to_end_attendance"), level["hops_ms"].get("frame_latency")
    level["sustained"] = bool(
        e2e and frame and e2e["p95"] < 1000 and frame["p95"] < 1000 and (level["drop_share"] or 0) < 0.05
    )
    crops = level["hops_ms"].get("end_to_end")
    level["sustained_all_crops"] = bool(level["sustained"] and crops and crops["p95"] < 1000)
    return level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, nargs="+", default=[4, 8, 12, 16, 20])
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--json", type=Path, default=REPO / "res" / "benchmarks" / "load.json")
    parser.add_argument("--edge-env", nargs="*", default=[],
                        help="edge settings for the run (KEY=VALUE; default: the edge's defaults)")
    parser.add_argument("--iot-env", nargs="*", default=[],
                        help="IoT settings for the run (KEY=VALUE; default: the IoT's defaults, cameras staggered "
                        "over one frame interval; ROLLCALL_IOT_STAGGER_CAMERAS=false: all phase-locked)")
    parser.add_argument("--photo-seconds", type=int, default=1,
                        help="seconds each photo of a photo-folder camera stays in view (a student passing the camera)")
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy each level's JSON-lines logs here")
    args = parser.parse_args()
    edge_env = dict(item.split("=", 1) for item in args.edge_env)
    iot_env = dict(item.split("=", 1) for item in args.iot_env)
    out: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
                           "load_start": os.getloadavg(), "warmup_s": args.warmup, "seconds": args.seconds, "levels": []}
    with tempfile.TemporaryDirectory(prefix="rollcall-load-") as tmp:
        for n in args.cameras:
            level = run_level(n, Path(tmp), args.warmup, args.seconds, edge_env, args.keep_logs, args.photo_seconds,
                              iot_env)
            level["load_after"] = os.getloadavg()
            out["levels"].append(level)
            e2e, frame = level["hops_ms"].get("end_to_end_attendance"), level["hops_ms"].get("frame_latency")
            crops, held = level["hops_ms"].get("end_to_end"), level["hops_ms"].get("held_by_crop_policy")
            print(f"[load] {n} cameras: all crops e2e {crops and round(crops['p50'])}/{crops and round(crops['p95'])} ms "
                  f"(n={crops and crops['n']}), held by policy {held and round(held['p50'])}/{held and round(held['p95'])} ms",
                  flush=True)
            print(f"[load] {n} cameras: e2e {e2e and round(e2e['p50'])}/{e2e and round(e2e['p95'])} ms (n={e2e and e2e['n']}), "
                  f"frame {frame and round(frame['p50'])}/{frame and round(frame['p95'])} ms, dropped {level['frames_dropped']:.0f}"
                  f"/{level['frames_received']:.0f}, sustained {level['sustained']}, cpu cores {level['cpu_cores']}", flush=True)
    out["load_end"] = os.getloadavg()
    sustained = [lv["cameras"] for lv in out["levels"] if lv["sustained"]]
    out["cameras_1fps_p95_under_1s"] = max(sustained) if sustained else 0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
