"""Edge benchmark (a script, not a test): run it with the main venv.

    .venv/bin/python benchmarks/edge_benchmark.py [--out res/benchmarks/edge.md]

Prints, from one run on the same frames:

1. ms/frame and frames/s of the ONNX Runtime backend (person detection only);
2. the same for Ultralytics' own predictor on the .pt weights, run in the export venv
   (.venv-export) by benchmarks/edge_ultralytics_worker.py, with the ratio and the box
   agreement. Where torchvision's NMS kernel is missing (this project's CPU machines), that
   is said plainly; the figures are then taken with ultralytics' own TorchNMS standing in
   for torchvision's NMS (``--no-nms-shim`` to skip them);
3. the full edge pipeline per frame (JPEG decode + person + face detection + tracking +
   crop encoding) and how many 1-fps cameras one edge sustains on this machine;
4. crops sent per person on classroom.gif (tracking dedupe).
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
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from common.images import encode_jpeg  # noqa: E402
from common.metrics import Metrics, percentile  # noqa: E402
from common.protocol import MessageType, make_image_message  # noqa: E402

from edge.faces import FaceFinder, QualityGate  # noqa: E402
from edge.onnx_detector import OnnxPersonDetector  # noqa: E402
from edge.pipeline import FrameProcessor  # noqa: E402
from edge.tracker import CropPolicy, TrackRegistry, iou  # noqa: E402

ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))
MODELS = Path(os.environ.get("ROLLCALL_EDGE_MODELS_DIR", REPO / "models"))
MODEL = "yolov8s-people-fall"
CLASSES = ["Normal", "Fall"]


def read_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    for index in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if ok:
            frames.append(frame)
    cap.release()
    return frames


def stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    mean = statistics.fmean(ms)
    return {"n": len(ms), "mean": mean, "p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "fps": 1000 / mean}


def fmt(s: dict[str, float]) -> str:
    return f"{s['mean']:.1f} ms/frame (p50 {s['p50']:.1f}, p95 {s['p95']:.1f}, n={s['n']}), {s['fps']:.2f} frames/s"


def time_onnx(detector: OnnxPersonDetector, frames: list[np.ndarray], repeat: int) -> tuple[list[float], list[list]]:
    boxes = [[list(d.box) + [d.score] for d in detector.detect(f)] for f in frames[:2]]  # warm-up
    ms = []
    cpu0 = time.process_time()
    for _ in range(repeat):
        for frame in frames:
            t0 = time.perf_counter()
            detector.detect(frame)
            ms.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(1, len(ms))
    boxes = [[list(d.box) + [d.score] for d in detector.detect(f)] for f in frames]
    return ms, boxes, cpu_ms


def run_ultralytics(frames: list[np.ndarray], repeat: int, shim: bool, threads: int) -> dict:
    python = Path(os.environ.get("ROLLCALL_EXPORT_VENV", REPO / ".venv-export")) / "bin" / "python"
    if not python.exists():
        return {"available": False, "reason": f"no export venv at {python.parent.parent} (scripts/prepare_models.sh creates it)"}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "frames.npz"
        np.savez(npz, **{f"frame_{i}": f for i, f in enumerate(frames)})
        cmd = [str(python), str(REPO / "benchmarks" / "edge_ultralytics_worker.py"), str(npz), str(MODELS / f"{MODEL}.pt"), "--classes", "0,1", "--repeat", str(repeat), "--threads", str(threads)]
        if shim:
            cmd.append("--nms-shim")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"available": False, "reason": f"worker failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def box_agreement(a: list[list], b: list[list]) -> tuple[int, int, float]:
    """(frames with equal counts, frames, mean IoU of greedily matched boxes)."""
    same, ious = 0, []
    for boxes_a, boxes_b in zip(a, b):
        same += len(boxes_a) == len(boxes_b)
        used = set()
        for box in boxes_a:
            options = [(iou(tuple(box[:4]), tuple(other[:4])), j) for j, other in enumerate(boxes_b) if j not in used]
            if options:
                best, j = max(options)
                used.add(j)
                ious.append(best)
    return same, len(a), statistics.fmean(ious) if ious else 0.0


def full_pipeline(detector, frames: list[np.ndarray], cameras: int) -> tuple[list[float], Counter, Metrics]:
    """Process frames as ``cameras`` cameras would send them (1 fps each)."""
    metrics = Metrics()
    processor = FrameProcessor(
        detector=detector,
        faces=FaceFinder(MODELS / "face_detection_yunet_2023mar.onnx"),
        tracks=TrackRegistry(0.3, 5000),
        policy=CropPolicy(10_000, 5),
        gate=QualityGate(min_face_px=12, min_blur=20, min_score=0.6),
        metrics=metrics,
        logger=__import__("logging").getLogger("bench"),
    )
    ms, per_track = [], Counter()
    cpu0 = time.process_time()
    for i, frame in enumerate(frames):
        for cam in range(cameras):
            jpeg = encode_jpeg(frame, 90)
            msg = make_image_message(MessageType.FRAME, jpeg, frame.shape[1], frame.shape[0], f"cam-{cam}", "room", seq=i)
            msg.header.stamp("captured", 1_000_000 + i * 70)
            t0 = time.perf_counter()
            result = processor.process(msg)
            for out in result.outgoing:
                CropPolicy.sent(out.track, out.candidate, out.camera_time_ms)
                per_track[(out.camera_id, out.track.track_id)] += 1
            ms.append((time.perf_counter() - t0) * 1000)
    metrics.set_gauge("cpu_ms_per_frame", (time.process_time() - cpu0) * 1000 / max(1, len(ms)))
    return ms, per_track, metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "res" / "benchmarks" / "edge.md")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes over the detection frames")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--no-nms-shim", action="store_true", help="do not time ultralytics with its TorchNMS standing in")
    args = parser.parse_args()

    onnx_path = MODELS / f"{MODEL}.onnx"
    if not onnx_path.exists():
        print(f"missing {onnx_path}: run scripts/prepare_models.sh", file=sys.stderr)
        return 1
    classroom = read_frames(ASSETS / "video" / "classroom.gif", list(range(0, 45, 3)))
    walking = read_frames(ASSETS / "video" / "one-by-one-person-detection.mp4", list(range(100, 1100, 100)))
    frames = classroom + walking
    lines = [
        "# Edge benchmark",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared with other jobs (expect noise). "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}. Model: `{MODEL}` (YOLOv8s, 2 person classes) at 640. "
        f"Frames: {len(classroom)} of classroom.gif (480x270) + {len(walking)} of one-by-one-person-detection.mp4 (768x432).",
        "",
        f"Load average at start: {os.getloadavg()[0]:.1f}.",
        "",
        "## Person detection: ONNX Runtime backend vs Ultralytics' own predictor (same frames, one run)",
        "",
    ]

    import onnxruntime

    detector = OnnxPersonDetector(onnx_path, CLASSES, conf_threshold=0.25, threads=args.threads)
    onnx_ms, onnx_boxes, onnx_cpu = time_onnx(detector, frames, args.repeat)
    onnx_stats = stats(onnx_ms)
    lines.append(f"- ONNX Runtime {onnxruntime.__version__} (CPU, {args.threads} threads, static 640x640 letterbox): {fmt(onnx_stats)}; CPU time {onnx_cpu:.0f} ms/frame")

    ultra = run_ultralytics(frames, args.repeat, shim=False, threads=args.threads)
    if not ultra.get("available"):
        lines.append(f"- Ultralytics predictor: NOT RUN: {ultra.get('reason')}")
        if "torchvision::nms" in str(ultra.get("reason")) and not args.no_nms_shim:
            ultra = run_ultralytics(frames, args.repeat, shim=True, threads=args.threads)
    if ultra.get("available"):
        u_stats = stats(ultra["ms"])
        label = "Ultralytics predictor"
        if ultra.get("shim"):
            label += " with ultralytics' TorchNMS standing in for the missing torchvision::nms"
        lines.append(f"- {label} (ultralytics {ultra['ultralytics']}, torch {ultra['torch']}, {ultra['threads']} threads, .pt, rectangular letterbox): {fmt(u_stats)}; CPU time {ultra['cpu_ms']:.0f} ms/frame")
        lines.append(
            f"- Ratio (ultralytics / onnx): wall-clock {u_stats['mean'] / onnx_stats['mean']:.2f}x, CPU time {ultra['cpu_ms'] / onnx_cpu:.2f}x "
            "(> 1 = the ONNX backend is faster). The two run one after the other, so on a loaded machine trust the CPU-time ratio more."
        )
        same, total, mean_iou = box_agreement(onnx_boxes, ultra["boxes"])
        lines.append(f"- Boxes: same person count in {same}/{total} frames, mean IoU of matched boxes {mean_iou:.3f}")
    elif ultra is not None and ultra.get("reason") and not lines[-1].startswith("- Ultralytics predictor: NOT RUN"):
        lines.append(f"- Ultralytics predictor: NOT RUN: {ultra['reason']}")

    lines += ["", "## Full pipeline per frame (decode + person + YuNet faces + tracking + crop JPEG), one worker", ""]
    all_classroom = read_frames(ASSETS / "video" / "classroom.gif", list(range(45)))
    pipe_ms, per_track, metrics = full_pipeline(detector, all_classroom, cameras=1)
    pipe_stats = stats(pipe_ms)
    counters = metrics.snapshot()["counters"]
    timings = metrics.snapshot()["timings"]
    lines.append(f"- classroom.gif, 45 frames: {fmt(pipe_stats)}")
    lines.append(
        f"  (inference p50 {timings['inference_ms']['p50']} ms, faces p50 {timings['face_ms']['p50']} ms per frame of 4 people)"
    )
    cpu_ms = metrics.snapshot()["gauges"]["cpu_ms_per_frame"]
    lines.append(f"- CPU time per frame {cpu_ms:.0f} ms (all threads); load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cameras = int(1000 // pipe_stats["p95"])
    lines.append(
        f"- 1-fps cameras one edge sustains here: **{cameras}** (1000 ms / p95 {pipe_stats['p95']:.0f} ms per frame; "
        f"{int(1000 // pipe_stats['mean'])} at the mean), as measured under the load above. On an otherwise idle machine of this size "
        f"the CPU time allows about {int(os.cpu_count() * 1000 // cpu_ms)}. More cameras than that and the buffer drops the oldest frames, fairly per camera."
    )
    lines += ["", "## Tracking dedupe on classroom.gif (4 people, 45 frames, crop interval 10 s)", ""]
    lines.append(
        f"- faces found {counters.get('faces', 0)}, crops sent {sum(per_track.values())}, suppressed by tracking {counters.get('crops_suppressed', 0)}, "
        f"tracks {len(per_track)}, crops per track {sorted(per_track.values())}"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
