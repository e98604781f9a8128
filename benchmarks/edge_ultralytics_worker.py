"""Runs Ultralytics' own predictor on frames for benchmarks/edge_benchmark.py (and the
comparison test). Meant for the export venv (.venv-export: torch + ultralytics); prints one
JSON object on stdout.

    .venv-export/bin/python benchmarks/edge_ultralytics_worker.py FRAMES.npz MODEL.pt --classes 0,1 [--nms-shim]

With ``--serve`` it times one frame per request instead, so the benchmark can interleave it
with the ONNX backend frame by frame: after warming up it prints one JSON line
(``{"available": true, "ready": true, ...}``), then reads frame indices from stdin, one per
line, and answers each with ``{"ms": wall, "cpu_ms": process CPU time, "boxes": [...]}``
(until EOF or ``quit``).

Without ``--nms-shim`` a missing ``torchvision::nms`` kernel is reported as
``{"available": false, "reason": ...}``. With it, ``torchvision.ops.nms`` is replaced by
ultralytics' own pure-torch ``TorchNMS.nms`` (documented by ultralytics to match torchvision)
(torchvision itself cannot even be imported then, so a stand-in module provides only ``ops.nms``)
so the rest of ultralytics' predictor (its letterbox, model, decode) can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np


def install_torchvision_nms_shim() -> None:
    """torchvision fails to import here (its C++ ops do not load); stand in a module whose
    ``ops.nms`` is ultralytics' own pure-torch NMS. Nothing else of torchvision is used
    by ultralytics' detection predictor."""
    import types

    from ultralytics.utils.nms import TorchNMS

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    shim = types.ModuleType("torchvision")
    shim.ops = types.ModuleType("torchvision.ops")
    shim.ops.nms = TorchNMS.nms
    shim.__version__ = "shim"
    sys.modules["torchvision"] = shim
    sys.modules["torchvision.ops"] = shim.ops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("frames", help=".npz with arrays frame_0, frame_1, ... (BGR)")
    parser.add_argument("model", help="ultralytics .pt (or .onnx)")
    parser.add_argument("--classes", default="0", help="comma-separated class ids counted as person")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--iou", type=float, default=0.45)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the frames")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--serve", action="store_true", help="time one frame per stdin request (interleaved benchmark)")
    parser.add_argument("--nms-shim", action="store_true", help="use ultralytics' TorchNMS when torchvision's kernel is missing")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "rollcall-ultralytics"))
    report: dict = {"python": sys.executable}
    try:
        import torch
        import ultralytics
        from ultralytics import YOLO
    except ImportError as exc:
        report.update(available=False, reason=f"ultralytics/torch not installed in {sys.executable}: {exc}")
        print(json.dumps(report))
        return 0
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    report.update(ultralytics=ultralytics.__version__, torch=torch.__version__)
    data = np.load(args.frames)
    frames = [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
    classes = [int(c) for c in args.classes.split(",")]
    model = YOLO(args.model, task="detect")

    def predict(frame):
        result = model.predict(frame, imgsz=args.imgsz, conf=args.conf, iou=args.iou, classes=classes, agnostic_nms=True, device="cpu", verbose=False)[0]
        return [[*map(float, b), float(s)] for b, s in zip(result.boxes.xyxy.tolist(), result.boxes.conf.tolist())]

    try:
        predict(frames[0])
        report["shim"] = False
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        report["torchvision_nms_error"] = str(exc).splitlines()[0]
        if not args.nms_shim:
            report.update(available=False, reason=f"ultralytics predictor cannot run here: {report['torchvision_nms_error']}")
            print(json.dumps(report))
            return 0
        install_torchvision_nms_shim()
        predict(frames[0])
        report["shim"] = True
    if args.threads > 0:
        torch.set_num_threads(args.threads)  # ultralytics may have changed it while setting up
    boxes = [predict(f) for f in frames]  # warm
    if args.serve:
        return serve(report, frames, predict)
    timings = []
    cpu0 = time.process_time()
    for _ in range(args.repeat):
        for frame in frames:
            t0 = time.perf_counter()
            predict(frame)
            timings.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(1, len(timings))
    report.update(available=True, boxes=boxes, ms=timings, cpu_ms=cpu_ms, threads=torch.get_num_threads())
    print(json.dumps(report))
    return 0


def serve(report: dict, frames: list, predict) -> int:
    """Answer frame-index requests on stdin with one timed prediction each."""
    import torch

    report.update(available=True, ready=True, threads=torch.get_num_threads())
    print(json.dumps(report), flush=True)
    for line in sys.stdin:
        if line.strip() in ("", "quit"):
            break
        frame = frames[int(line)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        boxes = predict(frame)
        ms, cpu_ms = (time.perf_counter() - t0) * 1000, (time.process_time() - cpu0) * 1000
        print(json.dumps({"ms": ms, "cpu_ms": cpu_ms, "boxes": boxes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
