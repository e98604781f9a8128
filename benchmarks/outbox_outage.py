"""Can the edge's outbox hold a 10-minute cloud outage at 20 cameras? (a benchmark, not a test)

1. Crops made while the cloud is away: the real edge (ONNX person detector, YuNet, tracker, crop
   policy, outbox on disk) gets each shared video as its own camera at 1 frame per second of
   camera time, looped for ``--minutes`` (each loop is a scene cut: every track ends and the
   people count as new, a pessimistic churn), with no cloud listening. Every crop stays in the
   outbox (a track waits for its answer, so it holds one crop at a time).
2. Extrapolated to 20 cameras for 10 minutes with the busiest video, against the default
   capacity (``ROLLCALL_EDGE_OUTBOX_MAX_CROPS``), with the outbox's bytes per crop on disk.
3. Drain: a cloud appears that answers every crop at once; the time the uplink takes to empty
   the outbox (the real cloud's pace is its Rekognition quota, 5 searches per second).

    .venv/bin/python benchmarks/outbox_outage.py [--minutes 3] [--out res/benchmarks/outbox.md]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from common.images import encode_jpeg
from common.protocol import Message, MessageType, make_image_message
from common.transport import Receiver
from edge.service import EdgeService
from edge.settings import EdgeSettings

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))
VIDEOS = [
    "classroom.gif",
    "face-demographics-walking.gif",
    "face-demographics-walking-and-pause.gif",
    "head-pose-face-detection-female-and-male.gif",
    "one-by-one-person-detection.mp4",
    "people-detection.gif",
]


def frames_at_1fps(path: Path) -> list[np.ndarray]:
    """One frame per second of the video."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    step = max(1, round(fps))
    frames, index = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


def free_address() -> str:
    probe = Receiver("tcp://127.0.0.1:*", kind="router")
    address = probe.bound_address
    probe.close()
    return address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="camera minutes per video")
    parser.add_argument("--out", type=Path, default=REPO / "res" / "benchmarks" / "outbox.md")
    args = parser.parse_args()
    models = Path(os.environ.get("ROLLCALL_EDGE_MODELS_DIR", REPO / "models"))
    work = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    address = free_address()
    settings = EdgeSettings(
        bind="tcp://127.0.0.1:*",
        cloud_address=address,
        models_dir=models,
        person_model=os.environ.get("ROLLCALL_EDGE_PERSON_MODEL", "yolov8s-people-fall.onnx"),
        person_classes=os.environ.get("ROLLCALL_EDGE_PERSON_CLASSES", "Normal,Fall"),
        outbox_path=work / "outbox.sqlite3",
        transport="plaintext",  # no cloud at all (the outage): the link's security is not measured
    )
    edge = EdgeService(settings, metrics_interval_s=3600)
    (processor,) = edge.processors
    rows = []
    started = time.perf_counter()
    for name in VIDEOS:
        frames = frames_at_1fps(ASSETS / "video" / name)
        camera = f"cam-{Path(name).stem[:40]}"
        before = len(edge.outbox)
        total = int(args.minutes * 60)
        for second in range(total):
            frame = frames[second % len(frames)]
            height, width = frame.shape[:2]
            msg = make_image_message(MessageType.FRAME, encode_jpeg(frame), width, height, camera, "room-1")
            msg.header.stamp("captured", 1_700_000_000_000 + second * 1000)
            edge.handle(processor, msg)
        crops = len(edge.outbox) - before
        rows.append((name, len(frames), total, crops, crops / args.minutes))
        print(f"{name}: {crops} crops in {args.minutes:g} camera minutes ({crops / args.minutes:.1f}/min)", flush=True)
    compute_s = time.perf_counter() - started
    held = len(edge.outbox)
    db_bytes = sum(p.stat().st_size for p in work.glob("outbox.sqlite3*"))
    per_crop = db_bytes / max(1, held)
    busiest = max(rows, key=lambda r: r[4])
    need = busiest[4] * 20 * 10

    cloud = Receiver(address, kind="router")
    edge.start()
    drain_started = time.perf_counter()
    answered = 0
    while len(edge.outbox) and time.perf_counter() - drain_started < 300:
        crop = cloud.recv(timeout_ms=100)
        if crop is None:
            continue
        meta = {"ack_of": crop.header.msg_id, "track_id": crop.header.meta.get("track_id"), "status": "unknown"}
        cloud.reply(cloud.last_peer or b"", Message(header=crop.header.derive(MessageType.RESULT, meta=meta)))
        answered += 1
    drain_s = time.perf_counter() - drain_started
    left = len(edge.outbox)
    edge.stop()
    cloud.close()

    lines = [
        "# Edge outbox: a cloud outage at 20 cameras",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores by "
        f"`benchmarks/outbox_outage.py --minutes {args.minutes:g}` (real edge, no cloud listening).",
        "Each shared video is one camera at 1 frame per second of camera time, looped; a loop is a scene",
        "cut, so every person counts as new each time (pessimistic churn). While the cloud is away a track",
        "holds one crop (it waits for its answer), so the outbox grows with new people, not with time.",
        "",
        "| Video (camera) | Frames per loop | Camera s | Crops held | Crops per camera-minute |",
        "|---|---|---|---|---|",
        *(f"| {n} | {f} | {t} | {c} | {r:.1f} |" for n, f, t, c, r in rows),
        "",
        f"- Outbox on disk: {held} crops, {db_bytes / 1e6:.1f} MB (SQLite + WAL), {per_crop / 1e3:.1f} KB per crop.",
        f"- Busiest camera: {busiest[0]}, {busiest[4]:.1f} crops per minute. 20 such cameras for 10 minutes: "
        f"**{need:.0f} crops, about {need * per_crop / 1e6:.0f} MB**, against the default capacity of "
        f"{settings.outbox_max_crops} crops ({'fits' if need <= settings.outbox_max_crops else 'DOES NOT FIT'}, "
        f"{settings.outbox_max_crops / max(1.0, need):.1f}x headroom).",
        f"- Drain when the cloud is back (it answers at once here): {answered} crops in {drain_s:.1f} s "
        f"({answered / max(drain_s, 1e-9):.0f} crops/s), {left} left. A real cloud answers at its Rekognition "
        f"quota (5 searches/s by default): {need:.0f} crops take about {need / 5 / 60:.0f} minutes to catch up.",
        f"- Edge compute for the outage part: {compute_s:.0f} s.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
