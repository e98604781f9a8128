"""Synthetic JSON logs in the exact format of common.logs, with known latencies."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from common.logs import JsonFormatter

T0 = 1_700_000_000_000
#: Fixed per-hop delays (ms) of every synthetic crop: sent, edge_received, ... recorded.
DELAYS = {"sent": 5, "edge_received": 10, "detect_start": 20, "detect_end": 80, "edge_sent": 2,
          "cloud_received": 8, "recognised": 300, "recorded": 4}


class LogWriter:
    """Writes events for one (tier, instance) into ``<dir>/<tier>/<tier>-<instance>.jsonl``."""

    def __init__(self, run_dir: Path, tier: str, instance: str) -> None:
        self.formatter = JsonFormatter(tier, instance)
        folder = run_dir / tier
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{tier}-{instance}.jsonl"
        self.fh = self.path.open("a", encoding="utf-8")
        self.tier = tier

    def event(self, at_ms: int, event: str, **fields: Any) -> None:
        record = logging.LogRecord(f"rollcall.{self.tier}", logging.INFO, __file__, 0, "", None, None)
        record.created = at_ms / 1000
        record.event = event
        for key, value in fields.items():
            setattr(record, key, value)
        self.fh.write(self.formatter.format(record) + "\n")

    def close(self) -> None:
        self.fh.close()


def stamps(captured: int) -> dict[str, int]:
    """The full ts map of a crop captured at ``captured``."""
    ts, t = {"captured": captured}, captured
    for hop, delay in DELAYS.items():
        t += delay
        ts[hop] = t
    return ts


def make_run(run_dir: Path, frames: int = 20, dropped: int = 3) -> dict[str, int]:
    """A run: ``frames`` frames sent (1 per 500 ms); even frames hold one face that the cloud
    records (student s<k>), every 4th odd frame a face that stays unknown; ``dropped``
    frames dropped at the IoT tier. Returns the expected counts."""
    iot = LogWriter(run_dir, "iot", "cam-host")
    edge = LogWriter(run_dir, "edge", "edge-host")
    cloud = LogWriter(run_dir, "cloud", "cloud-host")
    rek = LogWriter(run_dir, "rekognition", "rek-host")
    crops = recorded = unknown = 0
    for i in range(frames):
        trace = f"t{i:04d}"
        ts = stamps(T0 + i * 500)
        iot.event(ts["sent"], "frame_sent", trace_id=trace, camera_id="cam-1", seq=i,
                  ts={k: ts[k] for k in ("captured", "sent")})
        face = i % 2 == 0 or i % 4 == 1
        if not face:
            continue
        crops += 1
        msg = f"crop-{i}"
        edge.event(ts["edge_sent"], "crop_sent", trace_id=trace, msg_id=msg,
                   ts={k: ts[k] for k in list(ts)[:6]})
        rek.event(ts["recognised"] - 1, "request", operation="SearchFacesByImage", status=200, ms=290.0)
        if i % 2 == 0:
            recorded += 1
            cloud.event(ts["recognised"], "recognition_result", trace_id=trace, msg_id=msg, status="recognised", attempts=1)
            cloud.event(ts["recorded"], "attendance_recorded", trace_id=trace, msg_id=msg, student_id=f"s{i % 6}", ts=ts)
        else:
            unknown += 1
            cloud.event(ts["recognised"], "recognition_result", trace_id=trace, msg_id=msg, status="unknown", attempts=2)
            cloud.event(ts["recorded"], "unknown_face_stored", trace_id=trace, msg_id=msg, ts=ts)
    for j in range(dropped):
        iot.event(T0 + j * 700 + 3, "frame_dropped", trace_id=f"d{j}", camera_id="cam-1",
                  ts={"captured": T0 + j * 700, "sent": T0 + j * 700 + 3})
    end = T0 + frames * 500
    # Two metrics snapshots per tier: counters are cumulative, only the last one counts.
    iot.event(T0 + 1000, "metrics", counters={"sent": 2, "dropped": 1}, gauges={}, timings={})
    iot.event(end, "metrics", counters={"sent": frames, "dropped": dropped}, gauges={}, timings={})
    edge.event(end, "metrics", counters={"frames_received": frames, "buffer_dropped_oldest": 4, "crops_sent": crops},
               gauges={}, timings={"detect_ms": {"n": 3, "p50": 80}})
    cloud.event(end, "metrics", counters={"results_recognised": recorded, "rekognition_throttled": 1},
                gauges={}, timings={}, ingest={"rejected": {"bad_field": 2}, "queue": 0})
    cloud.event(end + 10, "end_of_stream", trace_id="eos", camera_id="cam-1")
    rek.event(end, "request", operation="IndexFaces", status=200, ms=100.0)
    rek.event(end, "request", operation="SearchFacesByImage", status=400, error_code="InvalidParameterException")
    for writer in (iot, edge, cloud, rek):
        writer.close()
    with (run_dir / "cloud" / "cloud-host.jsonl").open("a") as fh:  # a torn line at the end of a file
        fh.write('{"ts_ms": 1, "event": "metr\n')
    return {"frames": frames, "crops": crops, "recorded": recorded, "unknown": unknown, "dropped": dropped}
