"""Build res/benchmarks/REPORT.md, report.json and the PNG plots from the JSON the benchmarks wrote.

    .venv/bin/python benchmarks/report.py --dir res/benchmarks

Reads detector.json (benchmarks/detector_benchmark.py), rekognition_scale.json
(benchmarks/rekognition_scale.py), load.json (benchmarks/load_profile.py) and eval.json
(rollcall-eval --json). Every goal of issue 15 gets its measured value, the ratio to the goal,
met / missed and, when missed, by how much; the reasons are written by run_all.sh's author in
``WHY`` below and only shown next to a missed goal. Machine and load go at the top.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOLLARS_PER_CALL = 0.001
STUDENTS = 30
#: Why a goal may be missed here (shown only when it is).
WHY = {
    "detector": (
        "On a whole frame every engine runs the convolutions at about the same speed on this AVX2-only AMD CPU (no "
        "VNNI/AMX: INT8 gains little, OpenVINO's Intel-tuned kernels do not help); the gain beyond the engine comes from "
        "not detecting what did not move, so it depends on how much of the picture moves."
    ),
    "cameras": (
        "A whole YOLOv8s frame costs ~215 ms of CPU here. Motion regions bring the mean down (see section 1), but whole "
        "frames (every 5th, scene cuts, photo changes) still cost that much, and the same 2 cores run YuNet over every "
        "frame, the cloud, the local Rekognition (~110 ms of CPU per search, alone) and other jobs (load at the top). "
        "20 cameras at 1 fps leave ~100 ms of CPU per frame for everything."
    ),
    "e2e": (
        "At 4 cameras a crop's time is its frame's wait behind whole-frame detections (~215 ms CPU each) plus the local "
        "Rekognition search (~110 ms alone, more beside the edge) on the same 2 cores, shared with other jobs."
    ),
    "bytes": "Face crops are JPEGs of the face with a margin; see the evaluation table for the setting used.",
    "calls": "Tracks that are lost and found again (leave and return) cost a new call each.",
}


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def goal_row(name: str, value: float | None, goal: float, higher_is_better: bool, unit: str, why: str) -> tuple[str, bool]:
    if value is None:
        return f"| {name} | not measured | {goal:g}{unit} | - | **MISSED** (not measured) |", False
    met = value >= goal if higher_is_better else value <= goal
    ratio = value / goal if goal else float("nan")
    if met:
        verdict = "met"
    else:
        gap = goal - value if higher_is_better else value - goal
        verdict = f"**MISSED** by {gap:.3g}{unit} ({ratio:.2f}x of the goal). {why}"
    return f"| {name} | {value:.3g}{unit} | {'>=' if higher_is_better else '<='} {goal:g}{unit} | {ratio:.2f}x | {verdict} |", met


def plot_detector(det: dict[str, Any], path: Path) -> None:
    rows = [(n, c) for n, c in det["contenders"].items() if "cpu_ms" in c]
    rows += [(f"sequences: {n}", c) for n, c in (det.get("sequence") or {}).get("contenders", {}).items()]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    names = [n for n, _ in rows]
    ax.barh(names, [c["cpu_ms"]["mean"] for _, c in rows], color="tab:blue", label="CPU ms/frame")
    ax.barh(names, [c["wall_ms"]["mean"] for _, c in rows], color="none", edgecolor="tab:red", label="wall ms/frame")
    ax.set_xlabel("ms per frame (mean, interleaved; 'sequences': consecutive frames)")
    ax.set_title("Person detector by backend")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_latency(levels: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for hop, style in (("end_to_end", "-o"), ("frame_latency", "--s")):
        xs = [lv["cameras"] for lv in levels if lv["hops_ms"].get(hop)]
        for pct in ("p50", "p95"):
            ax.plot(xs, [lv["hops_ms"][hop][pct] for lv in levels if lv["hops_ms"].get(hop)], style, label=f"{hop} {pct}")
    ax.axhline(1000, color="grey", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("1-fps cameras on one edge")
    ax.set_ylabel("ms (log)")
    ax.set_title("Latency against the number of cameras")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_rss(levels: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    offset = 0.0
    for lv in levels:
        for tier, colour in (("edge", "tab:blue"), ("cloud", "tab:green"), ("rekognition", "tab:orange")):
            pts = lv["rss_mb"]
            ax.plot([offset + p["t_s"] for p in pts], [p[tier] for p in pts], color=colour,
                    label=tier if lv is levels[0] else None)
        ax.axvline(offset, color="grey", lw=0.5)
        ax.text(offset + 1, 0.95, f"{lv['cameras']} cams", fontsize=7, transform=ax.get_xaxis_transform())
        offset += (lv["rss_mb"][-1]["t_s"] if lv["rss_mb"] else 0) + 5
    ax.set_xlabel("s (one fresh stack per camera count)")
    ax.set_ylabel("RSS MB")
    ax.set_title("Resident memory over the load runs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> int:  # noqa: C901 - one linear report
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parents[1] / "res" / "benchmarks")
    parser.add_argument("--load-start", type=float, nargs=3, help="load average when run_all.sh started")
    parser.add_argument("--settings", default="", help="what run_all.sh ran the evaluation with")
    args = parser.parse_args()
    d = args.dir
    det, rk, lp, ev = (load(d / n) for n in ("detector.json", "rekognition_scale.json", "load.json", "eval.json"))
    stamps = [j["measured_at"] for j in (det, rk, lp) if j and j.get("measured_at")]
    now = datetime.fromisoformat(min(stamps)) if stamps else datetime.now(UTC)  # when the run began measuring
    start = args.load_start or os.getloadavg()
    end = (lp or {}).get("load_end") or os.getloadavg()
    lines = [
        "# Benchmark report (issue 15)", "",
        f"Measured {now.isoformat(timespec='seconds')} by `benchmarks/run_all.sh` on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}, `nproc` {os.cpu_count()}), Python {platform.python_version()}. "
        f"**Load average at start {start[0]:.2f} / {start[1]:.2f} / {start[2]:.2f}, after the load profile "
        f"{end[0]:.2f} / {end[1]:.2f} / {end[2]:.2f}** (1/5/15 min): the machine is "
        "shared with other jobs, so absolute times are noisy; comparisons are interleaved in one run and given as ratios.", "",
    ]
    ultra_ratio = e2e_p50 = cams = calls = bytes_ratio = None
    chosen = "onnx-fp32-640-1t+motion"  # the edge's defaults: ONNX FP32 at 640, 1 thread, motion regions
    seq = (det or {}).get("sequence") or {}
    if chosen in seq.get("contenders", {}):
        ultra_ratio = seq["contenders"][chosen].get("cpu_ratio_vs_ultralytics")
    if lp:
        cams = lp.get("cameras_1fps_p95_under_1s")
        four = [lv for lv in lp["levels"] if lv["cameras"] == 4 and lv["hops_ms"].get("end_to_end")]
        e2e_p50 = four[0]["hops_ms"]["end_to_end"]["p50"] if four else None
        if four:
            h = four[0]["hops_ms"]
            slowest = max((k for k in h if k not in ("end_to_end", "frame_latency") and h[k]), key=lambda k: h[k]["p95"])
            WHY["cameras"] += (
                f" At 4 cameras frames keep up (frame latency p95 {h['frame_latency']['p95']:.0f} ms, "
                f"{four[0]['frames_dropped']:.0f} dropped) but the end-to-end p95 is {h['end_to_end']['p95']:.0f} ms; its "
                f"largest p95 hop is {slowest} ({h[slowest]['p95']:.0f} ms against a p50 of {h[slowest]['p50']:.0f} ms), "
                "a tail this round did not explain."
            )
    if ev:
        calls = ev["summary"].get("calls_per_present")
        bytes_ratio = ev["summary"].get("edge_to_cloud_share_of_iot_bytes")
    bytes_pct = bytes_ratio * 100 if bytes_ratio is not None else None
    if ev and (ev["summary"]["recall"] < 1 or ev["summary"]["false_accepts"]):
        # The bandwidth figure only counts at 100 % recall and no false accept.
        WHY["bytes"] = (f"Not valid: recall {ev['summary']['recall']:.0%}, {ev['summary']['false_accepts']} false accepts "
                        "with these settings. " + WHY["bytes"])
        bytes_pct = None if bytes_pct is None else max(bytes_pct, 3.0 + 1e-9)
    rows = [
        goal_row("detector: less CPU per frame than ultralytics' predictor", ultra_ratio, 3.0, True, "x", WHY["detector"]),
        goal_row("1-fps cameras on one 2-core edge with p95 end to end < 1 s", cams, 20, True, "", WHY["cameras"]),
        goal_row("end to end p50 at 4 cameras", e2e_p50, 300, False, " ms", WHY["e2e"]),
        goal_row("Rekognition calls per present student", calls, 2, False, "", WHY["calls"]),
        goal_row("edge-to-cloud bytes / IoT-to-edge bytes", bytes_pct, 3, False, " %", WHY["bytes"]),
    ]
    lines += ["## Goals", "", "| goal | measured | goal | measured / goal | verdict |", "|---|---|---|---|---|", *(r for r, _ in rows), ""]
    lines += ["## 1. Person detector against ultralytics' predictor", ""]
    if det:
        lines += [
            f"{sum(det['frames'].values())} shared frames ({', '.join(f'{v} of {k}' for k, v in det['frames'].items())}), "
            f"{det['repeat']} interleaved passes; every contender sees each frame in turn, who goes first rotates. CPU = process "
            f"time of the detecting process for one frame (all threads). Load {det['load_start'][0]:.2f} -> {det['load_end'][0]:.2f}. "
            f"Agreement: against `{det['reference']}` (same count in every frame and mean IoU >= 0.9 = agrees). "
            "`ultralytics` = `pip install ultralytics` (PyPI torch + torchvision) in .venv-ultralytics, its own thread defaults.", "",
            "| contender | CPU ms/frame (mean / p50) | wall ms/frame (mean) | ultralytics CPU / this CPU | wall ratio | same count | mean IoU | agrees |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, c in det["contenders"].items():
            if "cpu_ms" not in c:
                lines.append(f"| {name} | not run: {c.get('reason', '?')} | | | | | | |")
                continue
            a = c.get("agreement_vs_reference", {})
            lines.append(
                f"| {name} | {c['cpu_ms']['mean']:.0f} / {c['cpu_ms']['p50']:.0f} | {c['wall_ms']['mean']:.0f} | "
                f"{c.get('cpu_ratio_vs_ultralytics', float('nan')):.2f}x | {c.get('wall_ratio_vs_ultralytics', float('nan')):.2f}x | "
                f"{a.get('same_count_frames')}/{a.get('frames')} | {a.get('mean_iou', 0):.3f} | {'yes' if c.get('agrees') else 'no'} |"
            )
        lines += ["", "Every frame detected whole, so the ratio is the engine's alone: ONNX Runtime with 1 thread is the cheapest "
                  "configuration that keeps the boxes; INT8 (both engines) misses the IoU bar, smaller inputs miss people.", ""]
        if seq:
            ms = seq.get("motion_stats", {})
            lines += [
                "### Camera sequences, with motion regions (the default)", "",
                f"Motion regions need a camera's real sequence, so this part runs {seq['frames']} consecutive frames "
                f"({'; '.join(seq['sequences'])}) through ultralytics' predictor, whole-frame ONNX and ONNX with motion regions, "
                f"interleaved frame by frame. Motion regions: {ms.get('full')} whole frames, {ms.get('regions')} region frames, "
                f"{ms.get('skipped')} frames without motion. Agreement against ultralytics' boxes per frame.", "",
                "| contender | CPU ms/frame (mean / p50) | ultralytics CPU / this CPU | same count | mean IoU |", "|---|---|---|---|---|",
            ]
            for name, c in seq["contenders"].items():
                a = c.get("agreement_vs_ultralytics", {})
                lines.append(f"| {name} | {c['cpu_ms']['mean']:.0f} / {c['cpu_ms']['p50']:.0f} | "
                             f"{c.get('cpu_ratio_vs_ultralytics', float('nan')):.2f}x | {a.get('same_count_frames')}/{a.get('frames')} | "
                             f"{a.get('mean_iou', 0):.3f} |")
        agree = seq.get("contenders", {}).get(chosen, {}).get("agreement_vs_ultralytics", {})
        if agree and agree.get("same_count_frames") != agree.get("frames"):
            lines += ["", f"Motion regions keep the boxes in {agree['same_count_frames']}/{agree['frames']} frames (mean IoU "
                      f"{agree['mean_iou']:.3f}). The others differ by one low-confidence box (score 0.39-0.44, threshold 0.25) at the "
                      "frame's border: kept from a previous frame on a frame without motion, or found in a region crop but not in "
                      "the whole frame (a borderline detection either way); the next whole frame (at most 4 frames later) resets it. "
                      "Whole-frame detection keeps the boxes in every frame."]
        lines += ["", f"Headline (`{chosen}`, the edge's defaults): **{ultra_ratio:.2f}x** less CPU per frame than ultralytics' "
                  "predictor on camera sequences." if ultra_ratio else "", "", "![detector](detector_backends.png)", ""]
    lines += ["## 2. Capacity and latency (load profile, real tiers as local processes)", ""]
    if lp:
        env = lp["levels"][0]["edge_env"] if lp["levels"] else {}
        lines += [
            f"One fresh stack per camera count; {lp['warmup_s']:.0f} s warm-up, then {lp['seconds']:.0f} s measured. Edge: "
            f"{', '.join(f'`{k}={v}`' for k, v in env.items()) or 'its defaults'}. Sustained = p95 end to end < 1 s, p95 frame latency < 1 s, "
            "< 5 % of frames dropped.", "",
            "| cameras | e2e p50 / p95 ms (n) | frame p50 / p95 ms | dropped / received | sustained | load after |",
            "|---|---|---|---|---|---|",
        ]
        for lv in lp["levels"]:
            e, f = lv["hops_ms"].get("end_to_end"), lv["hops_ms"].get("frame_latency")
            e_cell = "{p50:.0f} / {p95:.0f} ({n})".format(**e) if e else "-"
            f_cell = "{p50:.0f} / {p95:.0f}".format(**f) if f else "-"
            lines.append(
                f"| {lv['cameras']} | {e_cell} | {f_cell} | {lv['frames_dropped']:.0f} / {lv['frames_received']:.0f} | "
                f"{'yes' if lv['sustained'] else 'no'} | {lv['load_after'][0]:.1f} |"
            )
        lines += ["", "When the edge cannot keep up, its buffer drops each camera's oldest frames (column dropped), so the "
                  "latency of the frames that are processed stops growing with more cameras: the drop share is the capacity "
                  "signal there.", "", "Per-hop p50 (ms) at each camera count (from the `ts` stamps; detection and faces split by the edge's "
                  "`inference_ms` / `face_ms` timings, the Rekognition call by the cloud's timing):", "",
                  "| cameras | IoT | network | buffer wait | detection | faces | edge -> cloud | cloud queue | Rekognition | store |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for lv in lp["levels"]:
            h = {k: (v["p50"] if v else None) for k, v in lv["hops_ms"].items()}
            rek = lv.get("rekognition_call_ms_p50")
            # p50s do not add up exactly: a negative difference means no measurable queue.
            queue = max(0.0, (h.get("cloud_and_rekognition") or 0) - (rek or 0)) if h.get("cloud_and_rekognition") is not None else None
            cells = [h.get("iot"), h.get("network_iot_edge"), h.get("buffer_wait"), lv.get("edge_inference_ms_p50"),
                     lv.get("edge_face_ms_p50"), h.get("edge_to_cloud"), queue, rek, h.get("store")]
            lines.append(f"| {lv['cameras']} | " + " | ".join("-" if c is None else f"{c:.0f}" for c in cells) + " |")
        lines += ["", "p95 (ms) of the same hops from the stamps (detection and faces together):", "",
                  "| cameras | IoT | network | buffer wait | detection + faces | edge -> cloud | cloud + Rekognition | store | end to end |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for lv in lp["levels"]:
            names = ("iot", "network_iot_edge", "buffer_wait", "detection_and_faces", "edge_to_cloud", "cloud_and_rekognition",
                     "store", "end_to_end")
            cells = [lv["hops_ms"].get(k) for k in names]
            lines.append(f"| {lv['cameras']} | " + " | ".join("-" if c is None else f"{c['p95']:.0f}" for c in cells) + " |")
        lines += ["", "![latency](latency_vs_cameras.png)", "", "![rss](rss_over_time.png)", ""]
    lines += ["## 3. Local Rekognition at scale", ""]
    if rk:
        lines += [
            f"Probe {rk['probe']}; collections of 1 real face + synthetic embeddings. Load {rk['load_start'][0]:.2f} -> {rk['load_end'][0]:.2f}.", "",
            "| faces | full request p50 / p95 ms | vector search p50 / p95 ms | index build (cold) ms |", "|---|---|---|---|",
        ]
        for size, s in rk["sizes"].items():
            fr, vs = s["full_request_ms"], s["vector_search_ms"]
            lines.append(f"| {int(size):,} | {fr['p50']:.0f} / {fr['p95']:.0f} | {vs['p50']:.2f} / {vs['p95']:.2f} | {s['index_build_ms']:.0f} |")
        st = rk["stages_ms"]
        biggest = max(rk["sizes"].values(), key=lambda s: s["vector_search_ms"]["p50"])["vector_search_ms"]["p50"]
        lines += [
            "", f"The exact numpy search stays under 20 ms (largest p50 {biggest:.1f} ms), so no approximate index (FAISS/hnswlib) "
            "was added: it would only trade exactness for time that is not spent. What did cost at scale was the cold matrix "
            "rebuild after every IndexFaces (seconds at 100k); IndexFaces now extends the cached matrix (exact-result test in "
            "tests/rekognition_local/test_store.py).", "",
            f"Where one request's time goes (p50, in-process, interleaved with the full request): decode {st['decode']['p50']:.1f} ms, "
            f"face detection + dlib embedding {st['detect_and_embed']['p50']:.0f} ms, search {st['search']['p50']:.2f} ms; the full "
            f"request {st['full_request']['p50']:.0f} ms, so request handling (HTTP, SigV4, JSON, boto3) ~{st['request_handling_p50']:.0f} ms.", "",
            "The same request beside an edge-like load (2 processes of 1-thread person detection, paused/resumed so the three "
            "conditions interleave):", "",
            "| condition | p50 ms | p95 ms |", "|---|---|---|",
            *(f"| {k} | {v['p50']:.0f} | {v['p95']:.0f} |" for k, v in rk["under_load"].items()), "",
            "So the 754 ms seen in compose is CPU contention, not the search: dlib's embedding is CPU-bound and shares 2 cores with "
            "the edge's detection. The fix in the edge: detection threads run at nice 10 (`ROLLCALL_EDGE_DETECTOR_NICE`), which "
            "gives the co-hosted search the CPU first (row `edge_load_nice10`).", "",
        ]
    lines += ["## 4. Cost and bandwidth (rollcall-eval on the 7 scenarios)", ""]
    if ev:
        s = ev["summary"]
        per_hour = None
        if calls is not None:
            per_hour = calls * STUDENTS * DOLLARS_PER_CALL
        lines += [
            f"Settings: {args.settings or 'defaults'}. Recall {s['present']}/{s['expected']} ({s['recall']:.0%}), "
            f"false accepts {s['false_accepts']}, {s['rekognition_calls']} Rekognition calls, **{calls} calls per present student**; "
            f"edge-to-cloud bytes **{bytes_ratio:.2%}** of IoT-to-edge bytes.", "",
            f"Dollars per class-hour for {STUDENTS} students at ${DOLLARS_PER_CALL} per call: {calls} x {STUDENTS} x "
            f"${DOLLARS_PER_CALL} = **${per_hour:.3f}** (calls are per student per session: a track continues while the "
            "student stays in view, so an hour costs what the session's arrivals cost)." if per_hour is not None else "", "",
        ]
    lines += [
        "## Defaults chosen from these figures", "",
        "- Backend `onnx` (ONNX Runtime), FP32, input 640, 1 inference thread, 2 workers: OpenVINO gives the same boxes "
        "but no less CPU here; INT8 misses the IoU bar (both engines) and so stays opt-in; smaller inputs lose people.",
        "- Motion regions on (`ROLLCALL_EDGE_MOTION_REGIONS`): the only lever past 3x without losing people; the evaluation "
        "suite keeps 100 % recall with it.",
        "- Detection threads at nice 10 (`ROLLCALL_EDGE_DETECTOR_NICE`): a co-hosted Rekognition search gets the CPU first.",
        "- Face crops at JPEG quality 85, at most 160 px: under 3 % of the IoT bytes with 100 % recall and no false accept "
        "(quality 75 let a stranger through in a trial run, so not lower).",
        "- Exact vector search kept (no FAISS/hnswlib): under 20 ms at 100 000 faces.", "",
        "## Open", "",
        "- Capacity (20 cameras) and the 4-camera p50: missed on this shared 2-core machine with YOLOv8s; the official "
        "yolov8n (about a third of YOLOv8s' FLOPs) is the default for real users and was not available here to measure.",
        "- The end-to-end p95 tail between the edge's detection and the cloud at 4 cameras (table above) is not explained yet.", "",
    ]
    report = {
        "detector_cpu_ratio_vs_ultralytics": round(ultra_ratio, 3) if ultra_ratio else None,
        "cameras_1fps_p95_under_1s": cams,
        "e2e_p50_ms_4_cameras": round(e2e_p50, 1) if e2e_p50 is not None else None,
        "rekognition_calls_per_present_student": calls,
        "edge_to_cloud_bytes_ratio": bytes_ratio,
        "measured_at": now.isoformat(timespec="seconds"),
        "load_average_start": list(start),
        "nproc": os.cpu_count(),
        "goals_met": {name: met for name, (_, met) in zip(("detector", "cameras", "e2e", "calls", "bytes"), rows, strict=True)},
    }
    if det:
        plot_detector(det, d / "detector_backends.png")
    if lp and lp["levels"]:
        plot_latency(lp["levels"], d / "latency_vs_cameras.png")
        plot_rss(lp["levels"], d / "rss_over_time.png")
    (d / "REPORT.md").write_text("\n".join(lines) + "\n")
    (d / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(d / "REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
