"""Person detector backends against ultralytics' real predictor, side by side (a benchmark, not a test).

    .venv/bin/python benchmarks/detector_benchmark.py [--json res/benchmarks/detector.json]

Contenders, all on the same shared frames, interleaved frame by frame (who goes first rotates):
- ``ultralytics``: ``ultralytics.YOLO(.pt).predict`` as a user gets it with ``pip install
  ultralytics`` (PyPI torch + torchvision), in a separate venv (``--ultralytics-venv``, default
  .venv-ultralytics, created here on first use, ~7 min), in its own process, its own thread defaults;
- ``ultralytics-standin``: the same predictor in .venv-export (local CPU torch without torchvision),
  ultralytics' TorchNMS standing in for torchvision's NMS (kept for continuity with edge.md);
- the edge's backends in this process: ONNX Runtime and OpenVINO, FP32 and INT8, 1 or 2 threads,
  input 640 and smaller.
CPU = process time of the detecting process (all threads) for one frame. Box agreement of each
contender against the ONNX FP32 640 reference: same person count per frame, mean IoU of matched boxes.
Writes JSON (everything the report needs) and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from benchmarks.edge_benchmark import (  # noqa: E402
    ASSETS,
    CLASSES,
    MODEL,
    MODELS,
    UltralyticsServer,
    box_agreement,
    interleaved,
    read_frames,
    timed_detect,
)
from common.metrics import percentile  # noqa: E402
from edge.onnx_detector import OnnxPersonDetector  # noqa: E402

#: name -> (backend, model suffix, input size, threads)
OURS = {
    "onnx-fp32-640-2t": ("onnx", "", 640, 2),
    "onnx-fp32-640-1t": ("onnx", "", 640, 1),
    "onnx-int8-640-1t": ("onnx", "-int8", 640, 1),
    "openvino-fp32-640-1t": ("openvino", "", 640, 1),
    "openvino-int8-640-1t": ("openvino", "-int8", 640, 1),
    "onnx-fp32-480-1t": ("onnx", "", 480, 1),
    "onnx-fp32-320-1t": ("onnx", "", 320, 1),
}
REFERENCE = "onnx-fp32-640-2t"
#: The shared frames: every 3rd frame of classroom.gif, every 100th of one-by-one-person-detection.mp4.
CLASSROOM = list(range(0, 45, 3))
WALKING = list(range(100, 1100, 100))


#: Consecutive frames for motion regions (the state needs a camera's real sequence): (asset, step, count).
SEQUENCES = (
    ("classroom.gif", 1, 45),
    ("face-demographics-walking-and-pause.gif", 1, 41),
    ("head-pose-face-detection-female-and-male.gif", 1, 40),
    ("one-by-one-person-detection.mp4", 10, 40),  # a 10-fps video at 1 fps
)
MOTION = "onnx-fp32-640-1t+motion"


def read_sequence(asset: str, step: int, count: int) -> list:
    import cv2

    cap = cv2.VideoCapture(str(ASSETS / "video" / asset))
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


def sequence_phase(python: Path | None, tmp: Path) -> dict:
    """Whole-frame ONNX, ONNX with motion regions and ultralytics' predictor, frame by frame over
    each sequence in order (motion state per sequence), interleaved."""
    from edge.motion import MotionRegionDetector

    frames, starts = [], []
    for asset, step, count in SEQUENCES:
        starts.append(len(frames))
        frames += read_sequence(asset, step, count)
    model = MODELS / f"{MODEL}.onnx"
    whole = OnnxPersonDetector(model, CLASSES, threads=1)
    motion = MotionRegionDetector(OnnxPersonDetector(model, CLASSES, threads=1))
    camera = {start: f"seq-{n}" for n, start in enumerate(starts)}
    current = {"camera": "seq-0"}

    def run_motion(i: int):
        current["camera"] = camera.get(i, current["camera"])
        cpu0, t0 = time.process_time(), time.perf_counter()
        found = motion.detect_camera(current["camera"], frames[i])
        return (time.perf_counter() - t0) * 1000, (time.process_time() - cpu0) * 1000, [list(d.box) + [d.score] for d in found]

    contenders = {"onnx-fp32-640-1t": lambda i: timed_detect(whole, frames[i]), MOTION: run_motion}
    server = None
    if python is not None:
        os.environ["ROLLCALL_EXPORT_VENV"] = str(python.parent.parent)
        server = UltralyticsServer(frames, shim=False, threads=0, tmp=tmp)
        if server.info.get("available"):
            contenders["ultralytics"] = server.run
    motion.detect_camera("warm-up", frames[0])
    motion.forget("warm-up")
    try:
        # One pass: motion state must see each sequence once, in order (no rotation inside a frame's turn matters).
        results = interleaved(contenders, frames, 1)
    finally:
        if server is not None:
            server.close()
    out: dict = {"sequences": [f"{a} (every {s}. frame, {c})" for a, s, c in SEQUENCES], "frames": len(frames),
                 "motion_stats": {"full": motion.stats.full, "regions": motion.stats.regions, "skipped": motion.stats.skipped},
                 "contenders": {}}
    ultra = results.get("ultralytics")
    for name, r in results.items():
        entry: dict = {"cpu_ms": summary(r["cpu"]), "wall_ms": summary(r["ms"])}
        if ultra is not None:
            entry["cpu_ratio_vs_ultralytics"] = statistics.fmean(ultra["cpu"]) / statistics.fmean(r["cpu"])
            same, total, mean_iou = box_agreement(ultra["boxes"], r["boxes"])
            entry["agreement_vs_ultralytics"] = {"same_count_frames": same, "frames": total, "mean_iou": mean_iou}
        out["contenders"][name] = entry
    return out


def ensure_ultralytics_venv(venv: Path, create: bool) -> Path | None:
    """The venv's python, after ``pip install ultralytics`` there if it is missing (``create``)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import ultralytics, torch, torchvision"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    if not create:
        return None
    print(f"creating {venv} with `pip install ultralytics` (PyPI torch + torchvision; several minutes)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "ultralytics"], check=True)
    return python


def make_detector(backend: str, path: Path, size: int, threads: int):
    if backend == "openvino":
        from edge.openvino_detector import OpenvinoPersonDetector

        return OpenvinoPersonDetector(path, CLASSES, input_size=size, threads=threads)
    return OnnxPersonDetector(path, CLASSES, input_size=size, threads=threads)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"mean": statistics.fmean(values), "p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=REPO / "res" / "benchmarks" / "detector.json")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved passes over the frames")
    parser.add_argument("--ultralytics-venv", type=Path, default=REPO / ".venv-ultralytics")
    parser.add_argument("--no-create-venv", action="store_true", help="do not pip install ultralytics when the venv is missing")
    parser.add_argument("--skip-standin", action="store_true", help="do not run the .venv-export stand-in")
    parser.add_argument(
        "--export-venv", type=Path, default=Path(os.environ.get("ROLLCALL_EXPORT_VENV", REPO / ".venv-export")),
        help="venv with torch + ultralytics but no torchvision (the stand-in)",
    )
    parser.add_argument("--write-reference", type=Path, help="write the real predictor's boxes here (test fixture)")
    args = parser.parse_args()

    classroom = read_frames(ASSETS / "video" / "classroom.gif", CLASSROOM)
    walking = read_frames(ASSETS / "video" / "one-by-one-person-detection.mp4", WALKING)
    frames = classroom + walking
    if len(frames) < 25:
        print(f"shared frames missing under {ASSETS}", file=sys.stderr)
        return 1
    load_start = os.getloadavg()
    contenders: dict = {}
    info: dict[str, dict] = {}
    servers: list[UltralyticsServer] = []
    with tempfile.TemporaryDirectory() as tmp:
        python = ensure_ultralytics_venv(args.ultralytics_venv, not args.no_create_venv)
        venvs = [("ultralytics", python.parent.parent if python else None, "real predictor, pip install ultralytics")]
        if not args.skip_standin:
            venvs.append(("ultralytics-standin", args.export_venv, "TorchNMS stand-in, local CPU torch"))
        for name, venv, label in venvs:
            if venv is None:
                info[name] = {"available": False, "reason": "no ultralytics venv"}
                continue
            os.environ["ROLLCALL_EXPORT_VENV"] = str(venv)
            server = UltralyticsServer(frames, shim=name.endswith("standin"), threads=0, tmp=Path(tmp))
            info[name] = {**server.info, "label": label}
            if server.info.get("available"):
                servers.append(server)
                contenders[name] = server.run
        for name, (backend, suffix, size, threads) in OURS.items():
            path = MODELS / f"{MODEL}{suffix}.onnx"
            if not path.exists():
                info[name] = {"available": False, "reason": f"missing {path.name}"}
                continue
            try:
                detector = make_detector(backend, path, size, threads)
            except ImportError as exc:
                info[name] = {"available": False, "reason": f"{backend} not installed: {exc}"}
                continue
            detector.detect(frames[0])
            info[name] = {"available": True, "backend": backend, "model": path.name, "input_size": size, "threads": threads}
            contenders[name] = lambda i, d=detector: timed_detect(d, frames[i])
        try:
            results = interleaved(contenders, frames, args.repeat)
        finally:
            for server in servers:
                server.close()
    out: dict = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "frames": {"classroom.gif": len(classroom), "one-by-one-person-detection.mp4": len(walking)},
        "repeat": args.repeat,
        "reference": REFERENCE,
        "contenders": {},
    }
    ultra = results.get("ultralytics")
    for name, meta in info.items():
        entry = dict(meta)
        entry.pop("boxes", None)
        if name in results:
            r = results[name]
            entry["cpu_ms"], entry["wall_ms"] = summary(r["cpu"]), summary(r["ms"])
            if ultra is not None:
                entry["cpu_ratio_vs_ultralytics"] = statistics.fmean(ultra["cpu"]) / statistics.fmean(r["cpu"])
                entry["wall_ratio_vs_ultralytics"] = statistics.fmean(ultra["ms"]) / statistics.fmean(r["ms"])
            if REFERENCE in results:
                same, total, mean_iou = box_agreement(results[REFERENCE]["boxes"], r["boxes"])
                entry["agreement_vs_reference"] = {"same_count_frames": same, "frames": total, "mean_iou": mean_iou}
                entry["agrees"] = same == total and mean_iou >= 0.9
        out["contenders"][name] = entry
    if args.write_reference and ultra is not None:
        names = [("video/classroom.gif", i) for i in CLASSROOM] + [("video/one-by-one-person-detection.mp4", i) for i in WALKING]
        reference = {
            "source": f"ultralytics {info['ultralytics'].get('ultralytics')} (torch {info['ultralytics'].get('torch')}) "
            "YOLO(yolov8s-people-fall.pt).predict(imgsz=640, conf=0.25, iou=0.45, classes=[0, 1], agnostic_nms=True); "
            "written by benchmarks/detector_benchmark.py --write-reference",
            "frames": [
                {"asset": asset, "index": index, "boxes": [[round(v, 2) for v in box] for box in boxes]}
                for (asset, index), boxes in zip(names, ultra["boxes"], strict=True)
            ],
        }
        rows = ",\n".join("  " + json.dumps(frame) for frame in reference["frames"])
        args.write_reference.write_text(f'{{\n "source": {json.dumps(reference["source"])},\n "frames": [\n{rows}\n ]\n}}\n')
    with tempfile.TemporaryDirectory() as tmp:
        out["sequence"] = sequence_phase(python, Path(tmp))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    for name, entry in out["contenders"].items():
        if "cpu_ms" not in entry:
            print(f"- {name}: NOT RUN ({entry.get('reason')})")
            continue
        agree = entry.get("agreement_vs_reference", {})
        print(
            f"- {name}: CPU {entry['cpu_ms']['mean']:.0f} ms/frame, wall {entry['wall_ms']['mean']:.0f} ms; "
            f"vs ultralytics CPU {entry.get('cpu_ratio_vs_ultralytics', float('nan')):.2f}x; "
            f"agreement {agree.get('same_count_frames')}/{agree.get('frames')} IoU {agree.get('mean_iou', 0):.3f}"
        )
    for name, entry in out["sequence"]["contenders"].items():
        agree = entry.get("agreement_vs_ultralytics", {})
        print(f"- sequences, {name}: CPU {entry['cpu_ms']['mean']:.0f} ms/frame; vs ultralytics {entry.get('cpu_ratio_vs_ultralytics', 0):.2f}x; "
              f"agreement {agree.get('same_count_frames')}/{agree.get('frames')} IoU {agree.get('mean_iou', 0):.3f}")
    print(f"load {load_start} -> {out['load_end']}, {time.strftime('%H:%M:%S')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
