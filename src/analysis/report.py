"""Markdown and JSON reports of a run."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from .compute import LatencyStats, RunSummary


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else "-"


def _latency_table(rows: dict[str, LatencyStats]) -> list[str]:
    lines = ["| stage | n | p50 ms | p95 ms | p99 ms | mean ms | max ms |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, st in rows.items():
        if st.n:
            skew = f" ({st.negative} negative: clock skew)" if st.negative else ""
            lines.append(
                f"| {name}{skew} | {st.n} | {st.p50:.0f} | {st.p95:.0f} | {st.p99:.0f} | {st.mean:.0f} | {st.max:.0f} |"
            )
        else:
            lines.append(f"| {name} | 0 | - | - | - | - | - |")
    return lines


def markdown(summary: RunSummary, run_name: str, plots: list[Path]) -> str:
    """The human-readable summary."""
    start, end = summary.window_ms
    out = [
        f"# Run {run_name}",
        "",
        f"Logs: {summary.files} files, {summary.events} events ({summary.bad_lines} unparsable lines), "
        f"from {_when(start)} to {_when(end)} ({(end - start) / 1000:.0f} s).",
        "Events per tier: " + ", ".join(f"{t} {n}" for t, n in sorted(summary.tiers.items())) + ".",
        "",
        "## Latency per stage",
        "",
        *_latency_table(summary.stages),
        "",
        "## Latency per protocol hop",
        "",
        *_latency_table(summary.hops),
        "",
        "## Funnel (distinct frames up to `detect_end`, face crops from `edge_sent`)",
        "",
        "| hop | count | throughput /s |",
        "|---|---:|---:|",
    ]
    for hop, n in summary.funnel.items():
        rate = summary.throughput.get(hop)
        out.append(f"| {hop} | {n} | {'' if rate is None else f'{rate:.2f}'} |")
    out += [
        "",
        f"IoT frame events: {summary.frames.get('sent', 0)} sent, {summary.frames.get('dropped_at_iot', 0)} dropped "
        "(counted only when `ROLLCALL_IOT_FRAME_LOG_LEVEL=INFO`).",
        "",
        "Recognition outcomes at the cloud: "
        + (", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "none")
        + ".",
        "",
        f"Attendance: {summary.attendance.get('records', 0)} `attendance_recorded` events for "
        f"{summary.attendance.get('students', 0)} "
        f"students, {summary.attendance.get('unknown_faces', 0)} unknown faces stored, "
        f"{summary.attendance.get('streams_ended', 0)} END_OF_STREAM seen by the cloud.",
        "",
        "## Drops, rejections and errors (last `metrics` counters, summed per tier)",
        "",
    ]
    if summary.drops:
        out += ["| tier | counter | value |", "|---|---|---:|"]
        for tier, counters in summary.drops.items():
            out += [f"| {tier} | `{name}` | {value:g} |" for name, value in counters.items()]
    else:
        out.append("None counted.")
    rek = summary.rekognition
    out += [
        "",
        "## Rekognition calls",
        "",
        f"- cloud recognition attempts (SearchFacesByImage incl. retries): {rek.get('cloud_recognition_attempts', 0)}",
        "- local service calls by operation: "
        + (", ".join(f"{k} {v}" for k, v in sorted(rek.get("local_service_calls", {}).items())) or "none logged"),
        "- local service errors: "
        + (", ".join(f"{k} {v}" for k, v in sorted(rek.get("local_service_errors", {}).items())) or "none"),
    ]
    for name, value in rek.get("cloud_counters", {}).items():
        out.append(f"- cloud counter `{name}`: {value:g}")
    out += ["", "## All counters (last `metrics` line of each process, summed per tier)", ""]
    for tier, values in summary.counters.items():
        shown = ", ".join(f"`{k}` {v:g}" for k, v in values.items() if not k.startswith("timings."))
        out.append(f"- **{tier}**: {shown or 'none'}")
    if plots:
        out += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(out) + "\n"


def write_reports(summary: RunSummary, run_name: str, out_dir: Path, plots: list[Path]) -> tuple[Path, Path]:
    """``summary.md`` and ``summary.json`` (without raw samples) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "summary.md"
    md.write_text(markdown(summary, run_name, plots), encoding="utf-8")
    data = asdict(summary)
    data.pop("samples")
    data["run"] = run_name
    js = out_dir / "summary.json"
    js.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return md, js
