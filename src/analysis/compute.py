"""Figures of one run: per-hop latency percentiles, funnel, throughput, drops, Rekognition calls."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from common.metrics import percentile
from common.protocol import HOPS

from .loader import RunLogs

#: The coarse stages of the pipeline: (name, from hop, to hop).
STAGES: tuple[tuple[str, str, str], ...] = (
    ("capture -> edge received", "captured", "edge_received"),
    ("edge received -> detected", "edge_received", "detect_end"),
    ("detected -> cloud received", "detect_end", "cloud_received"),
    ("cloud received -> recognised", "cloud_received", "recognised"),
    ("recognised -> recorded", "recognised", "recorded"),
    ("end to end (captured -> recorded)", "captured", "recorded"),
)
#: Every consecutive pair of protocol hops.
HOP_PAIRS: tuple[tuple[str, str, str], ...] = tuple((f"{a} -> {b}", a, b) for a, b in zip(HOPS, HOPS[1:], strict=False))
#: Hops whose per-second rate is reported as throughput.
THROUGHPUT_HOPS = ("sent", "edge_received", "edge_sent", "cloud_received", "recorded")
#: Counter names that mean something was lost or refused.
DROP_PATTERN = re.compile(r"drop|reject|error|fail|overload|evict|timeout|undeliverable|unreadable", re.I)
_STANDARD_KEYS = {
    "ts_ms",
    "time",
    "level",
    "tier",
    "instance",
    "logger",
    "event",
    "msg",
    "counters",
    "gauges",
    "timings",
}


@dataclass
class LatencyStats:
    """Percentiles (ms) of one latency series."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float
    negative: int  # samples < 0: clocks of two hosts disagree

    @classmethod
    def of(cls, samples: list[float]) -> LatencyStats:
        values = sorted(samples)
        if not values:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            mean=round(sum(values) / len(values), 2),
            max=values[-1],
            negative=sum(1 for v in values if v < 0),
        )


@dataclass
class RunSummary:
    """Everything the report shows."""

    window_ms: tuple[int, int] = (0, 0)
    files: int = 0
    events: int = 0
    bad_lines: int = 0
    tiers: dict[str, int] = field(default_factory=dict)
    stages: dict[str, LatencyStats] = field(default_factory=dict)
    hops: dict[str, LatencyStats] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    funnel: dict[str, int] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    per_second: dict[str, dict[int, int]] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    drops: dict[str, dict[str, float]] = field(default_factory=dict)
    rekognition: dict[str, Any] = field(default_factory=dict)
    attendance: dict[str, int] = field(default_factory=dict)
    counters: dict[str, dict[str, float]] = field(default_factory=dict)


def _ts_events(logs: RunLogs) -> list[dict[str, Any]]:
    return [e for e in logs.events if isinstance(e.get("ts"), dict) and e.get("trace_id")]


def _valid(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def latency_samples(logs: RunLogs, pairs: tuple[tuple[str, str, str], ...]) -> dict[str, list[float]]:
    """Samples (ms) of each pair, one per distinct (trace, from-stamp, to-stamp).

    The same frame's ``captured -> sent`` is logged by IoT, edge and cloud: counting
    distinct stamps takes it once. Intervals that end at a crop hop (``edge_queued`` and
    later) count once per crop message id, so two crops of one frame count twice.
    """
    crop_hops = set(HOPS[HOPS.index("edge_queued") :])
    samples: dict[str, list[float]] = {name: [] for name, _, _ in pairs}
    seen: set[tuple[str, str, str, float, float]] = set()
    for event in _ts_events(logs):
        ts = event["ts"]
        for name, a, b in pairs:
            if _valid(ts.get(a)) and _valid(ts.get(b)):
                crop = ""
                if b in crop_hops:  # a per-crop interval: one sample per crop message id
                    crop = str(event.get("msg_id") or "")
                    if not crop:
                        continue  # e.g. the edge's result_received: the cloud logged this crop itself
                key = (name, str(event["trace_id"]), crop, ts[a], ts[b])
                if key not in seen:
                    seen.add(key)
                    samples[name].append(float(ts[b] - ts[a]))
    return samples


def hop_instances(logs: RunLogs) -> dict[str, dict[tuple[str, str], int]]:
    """For each hop: the distinct units that passed it -> stamp (ms).

    Up to ``detect_end`` a unit is a frame (trace id); from ``edge_queued`` on it is a
    face crop (trace id + crop message id, when the event names one).
    """
    crop_hops = set(HOPS[HOPS.index("edge_queued") :])
    passed: dict[str, dict[tuple[str, str], int]] = {hop: {} for hop in HOPS}
    for event in _ts_events(logs):
        trace = str(event["trace_id"])
        dropped = event.get("event") == "frame_dropped"  # stamped `sent`, but never left the camera
        for hop, stamp in event["ts"].items():
            if hop not in passed or not _valid(stamp) or (dropped and hop != "captured"):
                continue
            unit = (trace, str(event.get("msg_id") or "?")) if hop in crop_hops else (trace, "")
            previous = passed[hop].get(unit)
            passed[hop][unit] = int(stamp) if previous is None else min(previous, int(stamp))
    for hop in crop_hops:
        # An event without the crop's id stands for a crop only if no event names one.
        named = {trace for trace, msg in passed[hop] if msg != "?"}
        for unit in [u for u in passed[hop] if u[1] == "?" and u[0] in named]:
            del passed[hop][unit]
    return passed


def flatten_numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` for every numeric leaf."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            out.update(flatten_numbers(sub, f"{prefix}.{key}" if prefix else str(key)))
    elif _valid(value):
        out[prefix] = float(value)
    return out


def last_metrics(logs: RunLogs) -> dict[tuple[str, str], dict[str, float]]:
    """The last ``metrics`` line of each (tier, instance), flattened: counters are cumulative."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for event in logs.of("metrics"):
        last[(str(event.get("tier")), str(event.get("instance")))] = event
    result: dict[tuple[str, str], dict[str, float]] = {}
    for key, event in last.items():
        values = flatten_numbers(event.get("counters") or {})
        extras = {k: v for k, v in event.items() if k not in _STANDARD_KEYS}
        values.update(flatten_numbers(extras))
        result[key] = values
    return result


def summarise(logs: RunLogs) -> RunSummary:
    """Compute the figures of one run."""
    summary = RunSummary(files=len(logs.files), events=len(logs.events), bad_lines=logs.bad_lines)
    stamps = [e["ts_ms"] for e in logs.events if _valid(e.get("ts_ms"))]
    if stamps:
        summary.window_ms = (int(min(stamps)), int(max(stamps)))
    summary.tiers = dict(Counter(str(e.get("tier")) for e in logs.events))

    stage_samples = latency_samples(logs, STAGES)
    hop_samples = latency_samples(logs, HOP_PAIRS)
    summary.stages = {name: LatencyStats.of(v) for name, v in stage_samples.items()}
    summary.hops = {name: LatencyStats.of(v) for name, v in hop_samples.items()}
    summary.samples = {**hop_samples, **stage_samples}

    passed = hop_instances(logs)
    summary.funnel = {hop: len(units) for hop, units in passed.items()}
    for hop in THROUGHPUT_HOPS:
        times = sorted(passed[hop].values())
        if not times:
            continue
        span_s = max(1.0, (times[-1] - times[0]) / 1000)
        summary.throughput[hop] = round(len(times) / span_s, 3)
        buckets: dict[int, int] = defaultdict(int)
        for t in times:
            buckets[int((t - times[0]) // 1000)] += 1
        summary.per_second[hop] = dict(sorted(buckets.items()))

    summary.frames = {
        "sent": sum(1 for _ in logs.of("frame_sent")),
        "dropped_at_iot": sum(1 for _ in logs.of("frame_dropped")),
    }
    summary.outcomes = dict(Counter(str(e.get("status")) for e in logs.of("recognition_result")))
    summary.attendance = {
        "records": sum(1 for _ in logs.of("attendance_recorded")),
        "students": len({e.get("student_id") for e in logs.of("attendance_recorded")}),
        "unknown_faces": sum(1 for _ in logs.of("unknown_face_stored")),
        "streams_ended": sum(1 for _ in logs.of("end_of_stream", tier="cloud")),
    }

    metrics = last_metrics(logs)
    drops: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rek_counters: dict[str, float] = defaultdict(float)
    counters: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (tier, _instance), values in metrics.items():
        for name, value in values.items():
            if name.startswith("cameras."):  # per-camera breakdown of the IoT totals
                continue
            counters[tier][name] += value
            if DROP_PATTERN.search(name) and value > 0 and not name.startswith("timings."):
                drops[tier][name] += value
            if "rekognition" in name and not name.startswith("timings."):
                rek_counters[name] += value
    summary.drops = {tier: dict(sorted(v.items())) for tier, v in sorted(drops.items())}
    summary.counters = {tier: dict(sorted(v.items())) for tier, v in sorted(counters.items())}

    requests = list(logs.of("request", tier="rekognition"))
    summary.rekognition = {
        "local_service_calls": dict(Counter(str(e.get("operation")) for e in requests)),
        "local_service_errors": dict(Counter(str(e.get("error_code")) for e in requests if e.get("error_code"))),
        "cloud_recognition_attempts": int(
            sum(e["attempts"] if _valid(e.get("attempts")) else 1 for e in logs.of("recognition_result"))
        ),
        "cloud_counters": dict(sorted(rek_counters.items())),
    }
    return summary
