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

#: The hops of one crop's way, without overlap (load_profile.HOPS), for "largest hops".
PARTS = ("iot", "network_iot_edge", "buffer_wait", "detection_and_faces", "held_by_crop_policy", "outbox_wait",
         "transport_edge_cloud", "cloud_and_rekognition", "store")
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
        "Person detection is beside the face path (edge.people), so the edge's own frame latency no longer carries a "
        "YOLOv8s frame (~215 ms of CPU here); YuNet searches frames over 320 px on a downscaled copy, never a 40-px face under 20 px "
        "(a 1280x720 frame costs ~4x less); the face embeddings (cloud and local Rekognition) run dlib's ResNet in ONNX Runtime (~8x less "
        "CPU than dlib-bin); faces matched to nobody moments ago are not searched again. What is left is every tier on "
        "the same 2 cores."
    ),
    "e2e": (
        "The attendance row's path is the frame's faces (YuNet over the whole frame) and the local Rekognition search "
        "(YuNet, dlib's landmarks, its ResNet in ONNX Runtime) on the same 2 cores as the edge, the IoT tier and other jobs."
    ),
    "bytes": "Face crops are JPEGs of the face with a margin; see the evaluation table for the setting used.",
    "calls": ("A student who comes back in the session is matched to the faces the cloud kept (cloud.session_faces) "
              "without a call; so is the same look of a face matched to nobody moments ago (30 s; a near miss 10 s)."),
}


def searches_per_s(level: dict[str, Any]) -> float | None:
    """Rekognition searches per second over a level's run (its call counter; runs before it was
    counted: crops received minus evidence crops)."""
    c = level.get("cloud_counters") or {}
    if not level.get("run_s"):
        return None
    if "rekognition_calls_search_faces_by_image" in c:
        return c["rekognition_calls_search_faces_by_image"] / level["run_s"]
    if "crops_received" not in c:
        return None
    return (c["crops_received"] - c.get("evidence_crops", 0)) / level["run_s"]


def session_face_note(level: dict[str, Any]) -> str:
    """How many crops the session faces answered without a call in a level's run."""
    c = level.get("cloud_counters") or {}
    hits = c.get("session_face_hits")
    if not hits:
        return ""
    text = (f" {hits} crops of students who came back were recorded from the session's kept faces without a call "
            f"(`session_face_hits`; {c.get('session_face_misses', 0)} crops were compared and searched)")
    strangers = c.get("session_stranger_hits")
    if strangers:
        text += f", and {strangers} crops of faces matched to nobody moments ago (`session_stranger_hits`)"
    return text + "."


def cpu_note(level: dict[str, Any]) -> str:
    """Where a level's CPU went (cores over the measured seconds, each tier with its process pools)."""
    cores = level.get("cpu_cores") or {}
    if not cores:
        return ""
    parts = ", ".join(f"{name} {value:.2f}" for name, value in cores.items())
    return f" CPU over the measured seconds (cores of 2): {parts}; {sum(cores.values()):.2f} in all."


def capacity_why(lp: dict[str, Any]) -> str:
    """Why the largest camera count was not sustained, from its own figures."""
    level = max(lp["levels"], key=lambda lv: lv["cameras"])
    h = level["hops_ms"]
    frame, rows, cloud = h.get("frame_latency"), h.get("end_to_end_attendance"), h.get("cloud_and_rekognition")
    if not (frame and rows and cloud):
        return ""
    share = level["frames_dropped"] / level["frames_received"] if level["frames_received"] else 0.0
    edge_ok = frame["p95"] < 1000 and share < 0.05
    asked = searches_per_s(level)
    if level.get("sustained"):
        return (
            f" {level['cameras']} cameras are sustained: capture -> attendance row p50 {rows['p50']:.0f} / p95 "
            f"{rows['p95']:.0f} ms, frame latency p95 {frame['p95']:.0f} ms, {share:.1%} of frames dropped, "
            f"{_rate(asked)} searches a second (quota 5)." + cpu_note(level) + session_face_note(level)
        )
    text = (
        f" At {level['cameras']} cameras the edge {'keeps up' if edge_ok else 'does not keep up'}: frame latency (capture -> "
        f"the frame's crops chosen) p95 {frame['p95']:.0f} ms, {share:.1%} of frames dropped. The end to end to the "
        f"attendance row is p50 {rows['p50']:.0f} / p95 {rows['p95']:.0f} ms, and the cloud's part of it (received -> "
        f"recognised) p50 {cloud['p50']:.0f} ms: crops wait for the recognition."
    )
    if asked is not None and asked < 4.5:
        text += (
            f" The recognition made {asked:.1f} searches a second at {level['cameras']} cameras, under the quota of 5 calls a "
            "second: the 2 cores are the limit. The local Rekognition's searches and the cloud's session-face "
            "embeddings share them with the edge and the IoT tier; in production the cloud and Rekognition have their "
            "own hosts." + cpu_note(level) + session_face_note(level)
        )
    elif asked is not None:
        text += (
            f" The recognition served {asked:.1f} searches a second at {level['cameras']} cameras, fewer than the cameras asked (new faces, "
            "strangers' retries; the looping test videos restart their scenes every few seconds, and each restart is new "
            "tracks), beside the edge, the IoT tier and the cloud's session-face embeddings on the same 2 cores, and a "
            "quota of 5 calls a second (AWS's default): the recognition, not the edge's detection, is the bottleneck here."
            + cpu_note(level) + session_face_note(level)
        )
    kept = [(lv["cameras"], searches_per_s(lv)) for lv in lp["levels"] if lv.get("sustained") and searches_per_s(lv)]
    if kept:
        per_camera = max(rate / n for n, rate in kept)
        text += (
            f" Where the recognition kept up ({', '.join(str(n) for n, _ in kept)} cameras), this camera mix asked up to "
            f"{per_camera:.2f} searches a second per camera, so a quota of 5 calls a second serves at most "
            f"{5 / per_camera:.0f} such cameras, whatever the CPU."
        )
    return text


def latency_why(lp: dict[str, Any]) -> str:
    """Where the 4-camera attendance row's time goes (p50 of each hop)."""
    level = next((lv for lv in lp["levels"] if lv["cameras"] == 4), None)
    if level is None:
        return ""
    h = level["hops_ms"]
    names = (("buffer_wait", "buffer wait"), ("detection_and_faces", "faces and crops"),
             ("cloud_and_rekognition", "cloud + Rekognition"))
    parts = [f"{label} {h[k]['p50']:.0f} ms" for k, label in names if h.get(k)]
    return " p50 hops: " + ", ".join(parts) + " (all frames; attendance rows come from 1280x720 photo frames)."


def uplink_note(lp: dict[str, Any]) -> str:
    """Whether crops queued between the edge and the recognition, by camera count."""
    kept = [lv["cameras"] for lv in lp["levels"] if lv.get("sustained")]
    behind = [lv["cameras"] for lv in lp["levels"] if not lv.get("sustained")]
    text = ""
    if kept:
        text += (f"At {', '.join(map(str, kept))} cameras outbox and transport stay within tens of ms: no queueing in the "
                 "uplink or for the cloud's Rekognition quota (5 calls/s). ")
    if behind:
        text += (f"At {', '.join(map(str, behind))} cameras the cameras ask more searches a second than the recognition "
                 "serves (column searches / s in the table above is what it served): crops wait in the cloud's bounded queue "
                 "(cloud queue below) and, once it is full, in the edge's outbox and ZeroMQ's queues (outbox, transport).")
    return text


def variant_why(data: dict[str, Any] | None, lead: str) -> str:
    """One sentence on a variant load run (its largest camera count), for the capacity goal's verdict."""
    if not data or not data.get("levels"):
        return ""
    lv = max(data["levels"], key=lambda level: level["cameras"])
    rows, frame = lv["hops_ms"].get("end_to_end_attendance"), lv["hops_ms"].get("frame_latency")
    if not rows or not frame:
        return ""
    return (
        f" {lead.format(cameras=lv['cameras'], photo_seconds=lv.get('photo_seconds'))} (section 2), "
        f"{_rate(searches_per_s(lv))} searches a second served: attendance row p50 {rows['p50']:.0f} / p95 "
        f"{rows['p95']:.0f} ms, frame p95 {frame['p95']:.0f} ms, {'sustained' if lv['sustained'] else 'not sustained'}."
    )


def arrivals_why(la: dict[str, Any] | None) -> str:
    """The slower-arrivals run in one sentence."""
    return variant_why(la, "With the photo cameras showing a new student every {photo_seconds} s instead of every "
                           "second, {cameras} cameras")


def phase_locked_why(pl: dict[str, Any] | None) -> str:
    """The phase-locked run in one sentence."""
    return variant_why(pl, "With the {cameras} cameras phase-locked (every frame at the same instant)")


def arrivals_section(la: dict[str, Any]) -> list[str]:
    """The extra run: the same cameras, the photo cameras showing a new student every N s."""
    return variant_section(
        la, "The same cameras with students arriving more slowly",
        f"Measured {la['measured_at']}: the same stack and cameras, but each photo-folder camera keeps a photo in view for "
        f"{la['levels'][0].get('photo_seconds')} s (a student passing every {la['levels'][0].get('photo_seconds')} s "
        "per camera, instead of every second). The video cameras are unchanged (they still loop every few seconds).",
    )


def phase_locked_section(pl: dict[str, Any]) -> list[str]:
    """The extra run: the same cameras all started at once (every camera's frame at the same instant)."""
    return variant_section(
        pl, "The same cameras phase-locked",
        f"Measured {pl['measured_at']}: the same stack and cameras, but the IoT process starts them all at once "
        "(`ROLLCALL_IOT_STAGGER_CAMERAS=false`), so every camera's frame reaches the edge at the same instant each second "
        "and waits its turn behind the others; the runs above start them staggered over the second (the IoT default, "
        "as independent cameras are).",
    )


def variant_section(data: dict[str, Any], heading: str, intro: str) -> list[str]:
    """A load run of one variant: heading, what differs, and its table."""
    lines = [
        f"### {heading}", "", intro, "",
        "| cameras | attendance row p50 / p95 ms (n) | all crops p50 / p95 ms (n) | frame p50 / p95 ms | dropped / received "
        "| searches / s | sustained (all crops) |", "|---|---|---|---|---|---|---|",
    ]
    for lv in data["levels"]:
        h = lv["hops_ms"]
        cells = ["{p50:.0f} / {p95:.0f} ({n})".format(**h[k]) if h.get(k) else "-" for k in ("end_to_end_attendance", "end_to_end")]
        f = h.get("frame_latency")
        lines.append(
            f"| {lv['cameras']} | {cells[0]} | {cells[1]} | {_cell(f)} / {_cell(f, 'p95')} | {lv['frames_dropped']:.0f} / "
            f"{lv['frames_received']:.0f} | {_rate(searches_per_s(lv))} | {'yes' if lv['sustained'] else 'no'} "
            f"({'yes' if lv.get('sustained_all_crops') else 'no'}) |"
        )
    return [*lines, ""]


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def goal_row(name: str, value: float | None, goal: float, higher_is_better: bool, unit: str, why: str,
             note: str = "") -> tuple[str, bool]:
    """One row of the goals table; ``note`` is said whether the goal is met or not."""
    if value is None:
        return f"| {name} | not measured | {goal:g}{unit} | - | **MISSED** (not measured) |", False
    met = value >= goal if higher_is_better else value <= goal
    ratio = value / goal if goal else float("nan")
    if met:
        verdict = "met" + (f" (attendance evaluation). {note}" if note else "")
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
    for hop, style in (("end_to_end_attendance", "-o"), ("end_to_end", ":^"), ("frame_latency", "--s")):
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


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _cell(stat: dict[str, Any] | None, pct: str = "p50") -> str:
    return "-" if not stat else f"{stat[pct]:.0f}"


def four_cameras(lp: dict[str, Any] | None) -> dict[str, Any] | None:
    """p50 / p95 (ms) at 4 cameras: to the attendance row, all stored crops, and the crop policy's hold."""
    level = next((lv for lv in (lp or {}).get("levels", []) if lv["cameras"] == 4), None)
    if level is None:
        return None
    names = ("end_to_end_attendance", "end_to_end", "held_by_crop_policy", "transport_edge_cloud")
    return {k: {p: round(v[p], 1) for p in ("p50", "p95")} | {"n": v["n"]} for k in names if (v := level["hops_ms"].get(k))} | {
        "measured_at": lp["measured_at"] if lp else None}


def load_cost_note(lp: dict[str, Any] | None, which: str, goal: float) -> str:
    """What the load run measured for the calls or bytes goal (issue 15 item 4 asks both reports)."""
    costs = [(lv["cameras"], lv["cost"]) for lv in (lp or {}).get("levels", []) if lv.get("cost")]
    if not costs:
        return ""
    if which == "calls":
        values = [c["calls_per_present"] for _, c in costs if c.get("calls_per_present") is not None]
        figure = f"{min(values):.1f}-{max(values):.1f} calls per present student" if values else "no present student"
        why = ("the cameras bring the same faces back every few seconds, each time as a new track (a photo folder "
               "cycling through a few people, short videos looping); students who come back are recorded from the "
               "session's kept faces without a call, and so is the same look of a face matched to nobody moments ago "
               "(cloud.session_faces), but a stranger's other looks are searched (a face matched to nobody is never "
               "taken for a stranger beyond its same look: that would lock out a student whose first look failed), "
               "and only 10 students are present to divide the calls by")
    else:
        values = [c["edge_to_cloud_bytes_ratio"] * 100 for _, c in costs if c.get("edge_to_cloud_bytes_ratio") is not None]
        figure = f"{min(values):.1f}-{max(values):.1f} % of the bytes" if values else "no bytes"
        why = ("the same returns cost a crop each, the looping videos' scene cuts make new tracks, and where the cloud "
               "falls behind the edge resends crops (counted too)")
    cams = ", ".join(str(n) for n, _ in costs)
    if values and max(values) <= goal:
        return f"Also met in the load run ({cams} cameras: {figure}, section 2)."
    return f"**Not met in the load run** ({cams} cameras: {figure}, section 2): {why}. A lecture keeps a student in one track."


def cost_table(levels: list[dict[str, Any]]) -> list[str]:
    """The load run's cost and bandwidth (issue 15, item 4), when the run measured them."""
    rows = [lv for lv in levels if lv.get("cost")]
    if not rows:
        return []
    lines = [
        "### Cost and bandwidth in the load run", "",
        "Over the whole run (warm-up included): Rekognition calls (`rekognition_calls_search_faces_by_image`) per student "
        "present in a session, edge -> cloud bytes (`crop_bytes_transmitted`, resends included) as a share of the cameras' "
        "frame bytes, and the recognition crops the edge queued by kind of camera.", "",
        "| cameras | calls | session-face hits (no call) | same look of a face matched to nobody (no call) "
        "| present (session, student) | calls / present | edge -> cloud / IoT -> edge bytes "
        "| recognition crops: photo folders / videos |", "|---|---|---|---|---|---|---|---|",
    ]
    for lv in rows:
        c = lv["cost"]
        ratio = c.get("edge_to_cloud_bytes_ratio")
        demand = c.get("recognition_crops_by_camera_kind") or {}
        lines.append(
            f"| {lv['cameras']} | {c['rekognition_calls']} | {(lv.get('cloud_counters') or {}).get('session_face_hits', 0)} "
            f"| {(lv.get('cloud_counters') or {}).get('session_stranger_hits', 0)} | {c['present_students']} | {_cell_num(c.get('calls_per_present'))} "
            f"| {'-' if ratio is None else f'{ratio:.2%}'} | {demand.get('photo folders', '-')} / {demand.get('videos', '-')} |"
        )
    lines += [
        "", "The photo-folder cameras show a different photo every second and cycle through the same few people, so "
        "each comes back every few seconds as a new track. A student who comes back is recorded from the faces the cloud "
        "kept for the session, without a call (cloud.session_faces, issue 15 item 4; column hits), and so is the same "
        "look of a face matched to nobody moments ago (a looping video's frame again; next column); a stranger's other "
        "looks are searched again. In a lecture a student stays in view and keeps one track (section 4, the attendance "
        "evaluation).", "",
    ]
    return lines


def _cell_num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def cpu_table(levels: list[dict[str, Any]]) -> list[str]:
    """Where the CPU goes: cores each tier used over the measured seconds (its process pools included)."""
    rows = [lv for lv in levels if lv.get("cpu_cores")]
    if not rows:
        return []
    tiers = list(rows[0]["cpu_cores"])
    lines = [
        "### Where the CPU goes", "",
        "Cores each tier used over the measured seconds (user + system time of the process and its process pools, from "
        "/proc), all on the same 2 cores: the IoT process simulates the cameras (decoding the looping videos and photos), "
        "the cloud includes its session-face worker, `rekognition` is the local Rekognition-compatible service (AWS's in "
        "production).", "",
        "| cameras | " + " | ".join(tiers) + " | all |", "|---|" + "---|" * (len(tiers) + 1),
    ]
    for lv in rows:
        cores = lv["cpu_cores"]
        lines.append(f"| {lv['cameras']} | " + " | ".join(f"{cores.get(t, 0):.2f}" for t in tiers) + f" | {sum(cores.values()):.2f} |")
    return [*lines, ""]


def load_section(lp: dict[str, Any]) -> list[str]:  # noqa: C901 - one linear section
    """Section 2: capacity, the two end-to-end definitions, and every hop (p50 and p95)."""
    env = lp["levels"][0]["edge_env"] if lp["levels"] else {}
    ls, le = lp.get("load_start") or [0, 0, 0], lp.get("load_end") or [0, 0, 0]
    lines = [
        f"Measured {lp['measured_at']} (load average {ls[0]:.2f} / {ls[1]:.2f} / {ls[2]:.2f} at the start, "
        f"{le[0]:.2f} / {le[1]:.2f} / {le[2]:.2f} at the end). One fresh stack per camera count; {lp['warmup_s']:.0f} s "
        f"warm-up, then {lp['seconds']:.0f} s measured. Edge: {', '.join(f'`{k}={v}`' for k, v in env.items()) or 'its defaults'}. "
        f"Cameras: classroom.gif, photos of enrolled students (a new photo every {lp['levels'][0].get('photo_seconds', 1) if lp['levels'] else 1} s), face-demographics-walking.gif, "
        "face-demographics-walking-and-pause.gif, more photos, then the other videos (benchmarks/load_profile.py); enrolled "
        "students appear only in the photo folders. One IoT process runs them all, started staggered over one frame "
        "interval (its default, as independent cameras are; the same cameras phase-locked: last table of this section).", "",
        "End to end is measured two ways, both from the capture of the frame a face crop was cut from:", "",
        "- **capture -> attendance row** (the issue's metric): every crop the cloud stored as an attendance sighting of a "
        "recognised student (`attendance_recorded`, stamp `recorded`);",
        "- **all stored crops**: also unknown faces and the evidence crops of faces too small to search (what the previous "
        "report called end to end; its first four cameras were videos without an enrolled student, so its 4-camera figure "
        "had no attendance row in it).", "",
        "Sustained = p95 capture -> attendance row < 1 s, p95 frame latency < 1 s, < 5 % of frames dropped (the last "
        "column: the same with all stored crops).", "",
        "| cameras | attendance row p50 / p95 ms (n) | all crops p50 / p95 ms (n) | frame p50 / p95 ms | dropped / received "
        "| people thread: whole / region / no-motion frames | searches / s | sustained (all crops) | load after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in lp["levels"]:
        h = lv["hops_ms"]
        cells = []
        for name in ("end_to_end_attendance", "end_to_end"):
            e = h.get(name)
            cells.append("{p50:.0f} / {p95:.0f} ({n})".format(**e) if e else "-")
        f = h.get("frame_latency")
        modes = lv.get("detector_frames") or {}
        mode_cell = " / ".join("-" if modes.get(m) is None else f"{modes[m]:.0f}" for m in ("full", "regions", "skipped"))
        lines.append(
            f"| {lv['cameras']} | {cells[0]} | {cells[1]} | {_cell(f)} / {_cell(f, 'p95')} | {lv['frames_dropped']:.0f} / "
            f"{lv['frames_received']:.0f} | {mode_cell} | {_rate(searches_per_s(lv))} | {'yes' if lv['sustained'] else 'no'} "
            f"({'yes' if lv.get('sustained_all_crops') else 'no'}) | {lv['load_after'][0]:.1f} |"
        )
    lines += [
        "", "People thread: how the person detector, beside the face path (edge.people), detected the frames it took, "
        "warm-up included (gauges `detector_frames_*`): it takes each camera's newest frame when it is free, so with more "
        "cameras it takes a smaller share of the frames and the cameras' boxes get older (they follow their faces), while "
        "every frame's faces are still found and its crops sent. Frame latency = capture -> the frame's crops chosen "
        "(`detect_end`). When the face path cannot keep up, the buffer drops each camera's oldest frames (column dropped, "
        "over the measured seconds as the latencies; the warm-up, with models loading and worker processes starting, "
        "apart). "
        "Searches / s: Rekognition calls per second over the run (`rekognition_calls_search_faces_by_image`).", "",
        *cpu_table(lp["levels"]),
        *cost_table(lp["levels"]),
        "### Edge -> cloud: held by the crop policy, outbox, transport", "",
        "`edge_to_cloud` (detect_end -> cloud_received) is split by the edge's `edge_queued` stamp (the crop chosen by the "
        "crop policy and written to the outbox) and `edge_sent` (handed to ZeroMQ):", "",
        "- **held by crop policy** (detect_end -> edge_queued): the first crop of a track goes at once; while it waits for "
        "its RESULT the best crop seen meanwhile is kept, and goes out with a later frame once the RESULT is in and the "
        "retry wait (1 s, doubling after each unknown up to 8 s; half of it after an unconfirmed match) has passed. That "
        "crop keeps its own frame's capture time, so its age includes this deliberate wait;",
        "- **outbox** (edge_queued -> edge_sent): the uplink thread's next pass (it waits up to `result_poll_ms` = 10 ms "
        "for RESULTs between passes);",
        "- **transport** (edge_sent -> cloud_received): CurveZMQ over loopback.", "",
        "| cameras | crops | held > 100 ms | held p50 / p95 | first crops: held p50 / p95 (n) | later attempts: held p50 / p95 (n) "
        "| outbox p50 / p95 | transport p50 / p95 | edge -> cloud p50 / p95 | all crops e2e p95 | attendance rows: held p50 / p95 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in lp["levels"]:
        h = lv["hops_ms"]
        pair = [f"{_cell(h.get(k))} / {_cell(h.get(k), 'p95')}" + (f" ({h[k]['n']})" if k.startswith("held_") and h.get(k) else "")
                for k in ("held_by_crop_policy", "held_first_crop", "held_later_attempts", "outbox_wait",
                          "transport_edge_cloud", "edge_to_cloud")]
        held_rows = h.get("attendance_held_by_crop_policy")
        lines.append(
            f"| {lv['cameras']} | {lv.get('crops_queued', '-')} | {lv.get('crops_held_over_100ms', '-')} | " + " | ".join(pair)
            + f" | {_cell(h.get('end_to_end'), 'p95')} | {_cell(held_rows)} / {_cell(held_rows, 'p95')} |"
        )
    lines += [
        "", "A track's first crop is queued with its own frame (held only by the rest of that frame's work); the crops held "
        "for long are later attempts for faces the cloud did not recognise (strangers, `no_face`, a match to confirm), "
        "which the policy sends with a backoff on purpose to save Rekognition calls. Their old capture time makes the tail "
        "of the all-crops end to end; an attendance row almost always comes from a crop that was not held (last column), "
        "so the issue's metric carries no policy wait. " + uplink_note(lp),
        "", "Per-hop p50 (ms) at each camera count (from the `ts` stamps; the people thread's detection and the face "
        "path's faces from the edge's `inference_ms` / `face_ms` timings, the Rekognition call by the cloud's timing). "
        "The detection column is not on a crop's path: it runs beside it, on the people thread:", "",
        "| cameras | IoT | network | buffer wait | (detection, beside) | faces | held by policy | outbox + transport | cloud queue "
        "| Rekognition | store |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in lp["levels"]:
        h = {k: (v["p50"] if v else None) for k, v in lv["hops_ms"].items()}
        rek = lv.get("rekognition_call_ms_p50")
        # p50s do not add up exactly: a negative difference means no measurable queue.
        cloud = h.get("cloud_and_rekognition")
        queue = max(0.0, (cloud or 0) - (rek or 0)) if cloud is not None else None
        out = None if h.get("outbox_wait") is None else h["outbox_wait"] + (h.get("transport_edge_cloud") or 0)
        cells = [h.get("iot"), h.get("network_iot_edge"), h.get("buffer_wait"), lv.get("edge_inference_ms_p50"),
                 lv.get("edge_face_ms_p50"), h.get("held_by_crop_policy"), out, queue, rek, h.get("store")]
        lines.append(f"| {lv['cameras']} | " + " | ".join("-" if c is None else f"{c:.0f}" for c in cells) + " |")
    lines += ["", "p95 (ms) of the same hops from the stamps (detect_start -> detect_end: the face path):", "",
              "| cameras | IoT | network | buffer wait | faces and crops | held by policy | outbox | transport "
              "| cloud + Rekognition | store | all crops | attendance row |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for lv in lp["levels"]:
        names = ("iot", "network_iot_edge", "buffer_wait", "detection_and_faces", "held_by_crop_policy", "outbox_wait",
                 "transport_edge_cloud", "cloud_and_rekognition", "store", "end_to_end", "end_to_end_attendance")
        lines.append(f"| {lv['cameras']} | " + " | ".join(_cell(lv["hops_ms"].get(k), "p95") for k in names) + " |")
    lines += ["", "![latency](latency_vs_cameras.png)", "", "![rss](rss_over_time.png)", ""]
    return lines


def main() -> int:  # noqa: C901 - one linear report
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parents[1] / "res" / "benchmarks")
    parser.add_argument("--load-start", type=float, nargs=3, help="load average when run_all.sh started")
    parser.add_argument("--settings", default="", help="what run_all.sh ran the evaluation with")
    args = parser.parse_args()
    d = args.dir
    det, rk, lp, ev = (load(d / n) for n in ("detector.json", "rekognition_scale.json", "load.json", "eval.json"))
    la = load(d / "load_arrivals.json")  # optional: benchmarks/load_profile.py --photo-seconds 10
    pl = load(d / "load_phase_locked.json")  # optional: --iot-env ROLLCALL_IOT_STAGGER_CAMERAS=false
    stamps = [j["measured_at"] for j in (det, rk, lp) if j and j.get("measured_at")]
    now = datetime.fromisoformat(min(stamps)) if stamps else datetime.now(UTC)  # when the run began measuring
    start = args.load_start or os.getloadavg()
    end = (lp or {}).get("load_end") or os.getloadavg()
    lines = [
        "# Benchmark report (issue 15)", "",
        f"Measured from {now.isoformat(timespec='seconds')} (each section gives its own time) by `benchmarks/run_all.sh` on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}, `nproc` {os.cpu_count()}), Python {platform.python_version()}. "
        f"**Load average at start {start[0]:.2f} / {start[1]:.2f} / {start[2]:.2f}, after the load profile "
        f"{end[0]:.2f} / {end[1]:.2f} / {end[2]:.2f}** (1/5/15 min): the machine is "
        "shared with other jobs, so absolute times are noisy; comparisons are interleaved in one run and given as ratios."
        + (f" The load profile (section 2) was measured at {lp['measured_at']}; its own load is given there." if lp else ""), "",
    ]
    ultra_ratio = e2e_p50 = cams = calls = bytes_ratio = None
    chosen = "onnx-fp32-640-1t+motion"  # the edge's defaults: ONNX FP32 at 640, 1 thread, motion regions
    seq = (det or {}).get("sequence") or {}
    if chosen in seq.get("contenders", {}):
        ultra_ratio = seq["contenders"][chosen].get("cpu_ratio_vs_ultralytics")
    if lp:
        cams = lp.get("cameras_1fps_p95_under_1s")
        four = [lv for lv in lp["levels"] if lv["cameras"] == 4 and lv["hops_ms"].get("end_to_end_attendance")]
        e2e_p50 = four[0]["hops_ms"]["end_to_end_attendance"]["p50"] if four else None
        if four:
            h = four[0]["hops_ms"]
            crops, frame = h.get("end_to_end"), h["frame_latency"]
            parts = [k for k in PARTS if h.get(k)]
            top = sorted(parts, key=lambda k: -h[k]["p95"])[:3]
            WHY["e2e"] += latency_why(lp)
            WHY["cameras"] += capacity_why(lp) + arrivals_why(la) + phase_locked_why(pl) + (
                f" At 4 cameras frames {'keep up' if frame['p95'] < 1000 else 'do not keep up'} (frame latency p95 "
                f"{frame['p95']:.0f} ms, {four[0]['frames_dropped']:.0f} dropped); the end-to-end p95 to the attendance row is "
                f"{h['end_to_end_attendance']['p95']:.0f} ms" + (f" (all stored crops {crops['p95']:.0f} ms)" if crops else "")
                + "; its largest p95 hops: " + ", ".join(f"{k} {h[k]['p95']:.0f} ms" for k in top) + " (section 2)."
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
        goal_row("1-fps cameras on one 2-core edge with p95 capture -> attendance row < 1 s", cams, 20, True, "", WHY["cameras"]),
        goal_row("end to end p50 at 4 cameras (capture -> attendance row)", e2e_p50, 300, False, " ms", WHY["e2e"]),
        goal_row("Rekognition calls per present student", calls, 2, False, "", WHY["calls"], load_cost_note(lp, "calls", 2)),
        goal_row("edge-to-cloud bytes / IoT-to-edge bytes", bytes_pct, 3, False, " %", WHY["bytes"], load_cost_note(lp, "bytes", 3)),
    ]
    lines += ["## Goals", "", "| goal | measured | goal | measured / goal | verdict |", "|---|---|---|---|---|", *(r for r, _ in rows), ""]
    lines += ["## 1. Person detector against ultralytics' predictor", ""]
    if det:
        lines += [
            (f"Measured {det['measured_at']}. " if det.get("measured_at") else "")
            + f"{sum(det['frames'].values())} shared frames ({', '.join(f'{v} of {k}' for k, v in det['frames'].items())}), "
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
        lines += load_section(lp)
    if la and la.get("levels"):
        lines += arrivals_section(la)
    if pl and pl.get("levels"):
        lines += phase_locked_section(pl)
    lines += ["## 3. Local Rekognition at scale", ""]
    if rk:
        lines += [
            (f"Measured {rk['measured_at']}. " if rk.get("measured_at") else "")
            + f"Probe {rk['probe']}; collections of 1 real face + synthetic embeddings. Load {rk['load_start'][0]:.2f} -> {rk['load_end'][0]:.2f}.", "",
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
            f"face detection + embedding (dlib's landmarks, its ResNet in ONNX Runtime) {st['detect_and_embed']['p50']:.0f} ms, search {st['search']['p50']:.2f} ms; the full "
            f"request {st['full_request']['p50']:.0f} ms, so request handling (HTTP, SigV4, JSON, boto3) ~{st['request_handling_p50']:.0f} ms.", "",
            "The same request beside an edge-like load (2 processes of 1-thread person detection, paused/resumed so the three "
            "conditions interleave):", "",
            "| condition | p50 ms | p95 ms |", "|---|---|---|",
            *(f"| {k} | {v['p50']:.0f} | {v['p95']:.0f} |" for k, v in rk["under_load"].items()), "",
            "So the 754 ms seen in compose was CPU contention, not the search: the embedding is CPU-bound and shares 2 cores with "
            "the edge's detection (it now runs in ONNX Runtime, ~8x less CPU than dlib-bin's own, `common/dlib_resnet.py`). The fix in the edge: detection threads run at nice 10 (`ROLLCALL_EDGE_DETECTOR_NICE`), which "
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
        "- Person detection beside the face path (`ROLLCALL_EDGE_PERSON_DETECTION=beside`, edge.people): a crop's latency "
        "carries its frame's faces, not a YOLO frame, and with many cameras the person boxes get older instead of frames "
        "being dropped; the evaluation suite keeps 100 % recall and no false accept with it.",
        "- The people thread at nice 10 (`ROLLCALL_EDGE_DETECTOR_NICE`): the face path and a co-hosted Rekognition search "
        "get the CPU first.",
        "- OpenCV threads adaptive (`ROLLCALL_EDGE_OPENCV_THREADS=0`): every core for a lone busy worker (latency on a "
        "quiet edge), one thread each when several are busy (YuNet ~35 % less CPU than with OpenCV's threads on top).",
        "- Face crops at JPEG quality 85, at most 160 px: under 3 % of the IoT bytes with 100 % recall and no false accept "
        "(quality 75 let a stranger through in a trial run, so not lower).",
        "- Exact vector search kept (no FAISS/hnswlib): under 20 ms at 100 000 faces.",
        "- Faces searched on a copy at most 320 px long (`ROLLCALL_EDGE_FACE_MAX_SIDE`), never so small that a 40-px face "
        "falls under 20 px (1280x720 and 640x360 at half scale, 480x270 at two thirds): 233 of the 236 faces of 40 px or "
        "more in the shared and evaluation videos are still found (3 frames of one turned head), ~4x less YuNet CPU on "
        "1280x720 frames; at 20 cameras it took the attendance-row p95 from ~1 s to ~0.55 s (640 px: 1 024 ms, 320 px: "
        "546 ms in one run each).",
        "- dlib's ResNet in ONNX Runtime (`common/dlib_resnet.py`, rebuilt from dlib's own file at start-up): dlib's "
        "descriptors to 1e-6 at ~20 ms of CPU instead of ~160 ms (cloud session faces and the local Rekognition).",
        "- Session strangers (cloud.session_faces): the same look of a face matched to nobody is not searched again "
        "for 30 s (a near miss: 10 s); the evaluation suite keeps 100 % recall and no false accept.",
        "- The cameras of one IoT process start staggered over one frame interval (`ROLLCALL_IOT_STAGGER_CAMERAS`), as "
        "independent cameras are: the edge gets an even stream instead of every camera's frame at once (section 2, the "
        "phase-locked table).", "",
        "## Open", "",
        "- Capacity: the load profile runs every tier, the cameras' simulation included, on the same 2 cores (section 2, "
        "where the CPU goes); the margin at 20 cameras is what the IoT simulation and the local Rekognition leave the "
        "edge. The official yolov8n (about a third of YOLOv8s' FLOPs, the real users' default) was not available here "
        "to measure.",
        "- The previous report's unexplained edge -> cloud tail at 4 cameras is the crop policy's deliberate hold (section 2, "
        "`edge_queued`): transport and the outbox stay in tens of ms. Shortening it would change the policy (send the "
        "held crop when its track's RESULT comes in rather than with the track's next frame, or prefer a newer crop of "
        "similar quality); not done here, as it trades Rekognition calls and crop quality for latency of second looks.", "",
    ]
    report = {
        "detector_cpu_ratio_vs_ultralytics": round(ultra_ratio, 3) if ultra_ratio else None,
        "cameras_1fps_p95_under_1s": cams,
        "e2e_p50_ms_4_cameras": round(e2e_p50, 1) if e2e_p50 is not None else None,
        "e2e_definition": "capture of the frame a crop was cut from -> its attendance sighting stored (p50 at 4 cameras)",
        "e2e_4_cameras_ms": four_cameras(lp),
        "rekognition_calls_per_present_student": calls,
        "edge_to_cloud_bytes_ratio": bytes_ratio,
        # The same two figures from the load run, per camera count (the goals above are the evaluation's).
        "load_run_cost": {str(lv["cameras"]): lv["cost"] for lv in (lp or {}).get("levels", []) if lv.get("cost")},
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
