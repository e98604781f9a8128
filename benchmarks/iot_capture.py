"""IoT tier figures, measured side by side in one run (not a test; numbers vary with the machine).

1. grab/retrieve split: reading every frame of the shared video with ``read()`` vs. ``grab()``
   and retrieving only the 1-in-10 frames a 1 fps cap keeps.
2. motion gate: frames sent at 1 fps with and without the gate over the whole video (fast mode).
3. load generator: CPU used per simulated camera (realtime replay at 1 fps, ``--replicate N``)
   sending into a local PULL socket, so the Docker scale demo can size its IoT containers.

    .venv/bin/python benchmarks/iot_capture.py [--video PATH] [--cameras 1,4,16] [--seconds 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import threading
import time
from pathlib import Path

import cv2

from common.transport import Receiver
from iot.runner import Runner
from iot.settings import load_iot_settings

ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", Path(__file__).resolve().parents[2] / "shared" / "assets"))
LOG = logging.getLogger("bench.iot")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def grab_vs_read(video: Path) -> None:
    for label, keep_every in (("read() every frame", 1), ("grab() all, retrieve 1 in 10", 10)):
        cap = cv2.VideoCapture(str(video))
        started, cpu0, n = time.perf_counter(), cpu_seconds(), 0
        while cap.grab():
            if n % keep_every == 0:
                cap.retrieve()
            n += 1
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
        print(f"  {label:<30} {n} frames  {wall * 1000 / n:6.2f} ms/frame wall  {cpu * 1000 / n:6.2f} ms/frame CPU")


def run_runner(seconds: float | None, **settings) -> tuple[Runner, float, float, int]:
    rx = Receiver("tcp://127.0.0.1:*", hwm=1000)
    # capture cost, not the link: plain TCP (the explicit opt-in) to an in-process receiver
    settings.setdefault("transport", "plaintext")
    runner = Runner(load_iot_settings(edge_address=rx.bound_address, **settings), LOG, metrics_interval_s=3600)
    received = 0
    cpu0, started = cpu_seconds(), time.perf_counter()
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = started + seconds if seconds else None
    while thread.is_alive() and (deadline is None or time.perf_counter() < deadline):
        if rx.recv(timeout_ms=20) is not None:
            received += 1
    runner.stop()
    thread.join(30)
    while rx.recv(timeout_ms=50) is not None:
        received += 1
    rx.close()
    return runner, time.perf_counter() - started, cpu_seconds() - cpu0, received


def motion_gate(video: Path) -> None:
    for gate in (False, True):
        runner, wall, _, _received = run_runner(
            None, source=str(video), fps=1, realtime=False, motion_gate=gate, keyframe_interval_s=0, eos_timeout_s=2
        )
        c = runner.metrics.snapshot()["counters"]
        print(
            f"  motion_gate={gate!s:<5} sent {c['sent']:4d}  skipped_motion {c['skipped_motion']:4d}  "
            f"(captured {c['captured']}, {wall:.1f} s)"
        )


def load(video: Path, counts: list[int], seconds: float) -> None:
    for n in counts:
        runner, wall, cpu, received = run_runner(
            seconds, source=str(video), fps=1, realtime=True, loop=True, replicate=n, camera_id="sim"
        )
        c = runner.metrics.snapshot()["counters"]
        print(
            f"  {n:3d} cameras: {received / wall:6.1f} frames/s received, dropped {c['dropped']}, "
            f"CPU {100 * cpu / wall:5.1f}% of one core = {100 * cpu / wall / n:4.1f}% per camera"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ASSETS / "video" / "one-by-one-person-detection.mp4")
    parser.add_argument("--cameras", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"video: {args.video}")
    print("1. grab/retrieve split")
    grab_vs_read(args.video)
    print("2. motion gate over the whole video at 1 fps (fast mode)")
    motion_gate(args.video)
    print(f"3. load generator, realtime 1 fps, {args.seconds:.0f} s each")
    load(args.video, [int(x) for x in args.cameras.split(",")], args.seconds)


if __name__ == "__main__":
    main()
