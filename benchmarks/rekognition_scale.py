"""Local Rekognition at scale, and where a search's time goes under load (a benchmark, not a test).

    .venv/bin/python benchmarks/rekognition_scale.py [--json res/benchmarks/rekognition_scale.json]

1. Collections of 1,000 / 10,000 / 100,000 faces (1 real enrolled face + SYNTHETIC embeddings
   drawn from a Gaussian fitted to the real enrol embeddings, inserted straight into the store).
   Full SearchFacesByImage requests through boto3 (HTTP + SigV4 + decode + YuNet + dlib + search),
   the sizes interleaved request by request; and the vector search alone, in-process.
2. Where the time goes: the same full request split into the in-process stages (decode, face
   detection + dlib embedding, vector search); the rest is request handling (HTTP, SigV4, JSON).
   Then the same request while an edge-like load runs (a person-detector loop in 2 processes of
   1 thread, as the edge's 2 workers): at normal priority and at ``nice 10``. The load processes
   run all along and are paused/resumed (SIGSTOP/SIGCONT), so the three conditions interleave in
   blocks of a few requests and see the same machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the service does

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from benchmarks.rekognition_benchmark import client, synthetic  # noqa: E402
from common.metrics import percentile  # noqa: E402
from rekognition_local.app import RunningServer, build  # noqa: E402
from rekognition_local.imaging import decode_request_image  # noqa: E402
from rekognition_local.settings import RekognitionSettings  # noqa: E402
from rekognition_local.store import NewFace  # noqa: E402

HOG = """
import sys, cv2
sys.path.insert(0, {src!r})
from edge.onnx_detector import OnnxPersonDetector
cap = cv2.VideoCapture({video!r}); ok, frame = cap.read()
d = OnnxPersonDetector(__import__('pathlib').Path({model!r}), ['Normal', 'Fall'], threads=1)
print('ready', flush=True)
while True:
    d.detect(frame)
"""


def pct(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "mean": statistics.fmean(values), "n": len(values)}


def fill(store, name: str, n: int, real: np.ndarray, rng: np.random.Generator) -> None:
    batch = 20_000
    for start in range(0, n, batch):
        fake = synthetic(real, min(batch, n - start), rng)
        store.add_faces(name, [
            NewFace(str(uuid.uuid4()), "synthetic", "synthetic", {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}, 99.0, "synthetic", v)
            for v in fake
        ])


def start_hogs(assets: Path, models: Path, nice: int, count: int = 2) -> list[subprocess.Popen]:
    code = HOG.format(src=str(REPO / "src"), video=str(assets / "video" / "classroom.gif"), model=str(models / "yolov8s-people-fall.onnx"))
    hogs = []
    for _ in range(count):
        proc = subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGSTOP)
        hogs.append(proc)
    return hogs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=Path, default=Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets")))
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("ROLLCALL_EDGE_MODELS_DIR", REPO / "models")))
    parser.add_argument("--json", type=Path, default=REPO / "res" / "benchmarks" / "rekognition_scale.json")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--requests", type=int, default=30, help="full requests per size")
    parser.add_argument("--blocks", type=int, default=6, help="blocks of 5 requests per load condition")
    args = parser.parse_args()
    faces = args.assets / "faces"
    probe = (faces / "probe/obama_small.jpg").read_bytes()
    load_start = os.getloadavg()
    out: dict = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(), "load_start": load_start,
                 "probe": "probe/obama_small.jpg (320x240)", "sizes": {}, "stages_ms": {}, "under_load": {}}
    with tempfile.TemporaryDirectory() as tmp:
        settings = RekognitionSettings(models_dir=args.assets / "models", models_mirror="", data_dir=Path(tmp),
                                       embedding_processes=0, access_keys=("AKIDBENCH:bench",))
        components = build(settings)
        server = RunningServer(components, "127.0.0.1", 0, threads=8).start()
        hogs: dict[str, list[subprocess.Popen]] = {}
        try:
            c = client(server.url)
            engine, store = components.engine, components.store
            enrol = [p for p in sorted((faces / "enroll").glob("*/*.jpg"))]
            real = np.array([f.embedding for p in enrol for f in engine.analyse(decode_request_image(p.read_bytes(), 10**8), 1)][:40])
            rng = np.random.default_rng(7)
            query = engine.analyse(decode_request_image(probe, 10**8), 1)[0].embedding
            for size in args.sizes:
                name = f"size{size}"
                c.create_collection(CollectionId=name)
                c.index_faces(CollectionId=name, Image={"Bytes": (faces / "enroll/obama/1.jpg").read_bytes()}, ExternalImageId="obama")
                t = time.perf_counter()
                fill(store, name, size - 1, real, rng)
                insert_s = time.perf_counter() - t
                t = time.perf_counter()
                index = store.index(name)
                build_ms = (time.perf_counter() - t) * 1000
                searches = []
                for _ in range(200 if size <= 10_000 else 50):
                    t = time.perf_counter()
                    hits = index.search(query, 10, 80)
                    searches.append((time.perf_counter() - t) * 1000)
                assert hits and hits[0][0]["ExternalImageId"] == "obama", "the real face must win"
                out["sizes"][str(size)] = {"insert_s": insert_s, "index_build_ms": build_ms, "vector_search_ms": pct(searches)}
            full: dict[str, list[float]] = {str(s): [] for s in args.sizes}
            for _ in range(args.requests):
                for size in args.sizes:
                    t = time.perf_counter()
                    r = c.search_faces_by_image(CollectionId=f"size{size}", Image={"Bytes": probe}, FaceMatchThreshold=80)
                    full[str(size)].append((time.perf_counter() - t) * 1000)
                    assert r["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
            for size in args.sizes:
                out["sizes"][str(size)]["full_request_ms"] = pct(full[str(size)])
            # Stages of one request, in-process, interleaved with the full request (smallest collection).
            small = f"size{args.sizes[0]}"
            stages: dict[str, list[float]] = {"full_request": [], "decode": [], "detect_and_embed": [], "search": []}
            index = store.index(small)
            for _ in range(args.requests):
                t0 = time.perf_counter()
                image = decode_request_image(probe, 10**8)
                t1 = time.perf_counter()
                found = engine.analyse(image, 1)
                t2 = time.perf_counter()
                index.search(found[0].embedding, 10, 80)
                t3 = time.perf_counter()
                c.search_faces_by_image(CollectionId=small, Image={"Bytes": probe})
                t4 = time.perf_counter()
                for key, v in (("decode", t1 - t0), ("detect_and_embed", t2 - t1), ("search", t3 - t2), ("full_request", t4 - t3)):
                    stages[key].append(v * 1000)
            out["stages_ms"] = {k: pct(v) for k, v in stages.items()}
            full_p50 = out["stages_ms"]["full_request"]["p50"]
            out["stages_ms"]["request_handling_p50"] = full_p50 - sum(out["stages_ms"][k]["p50"] for k in ("decode", "detect_and_embed", "search"))
            # Under an edge-like load, at normal priority and at nice 10 (paused/resumed, interleaved in blocks).
            hogs = {"edge_load_nice0": start_hogs(args.assets, args.models, 0), "edge_load_nice10": start_hogs(args.assets, args.models, 10)}
            under: dict[str, list[float]] = {"idle": [], "edge_load_nice0": [], "edge_load_nice10": []}
            for _ in range(args.blocks):
                for condition in under:
                    for proc in hogs.get(condition, []):
                        proc.send_signal(signal.SIGCONT)
                    time.sleep(0.5)
                    for _ in range(5):
                        t = time.perf_counter()
                        c.search_faces_by_image(CollectionId=small, Image={"Bytes": probe})
                        under[condition].append((time.perf_counter() - t) * 1000)
                    for proc in hogs.get(condition, []):
                        proc.send_signal(signal.SIGSTOP)
            out["under_load"] = {k: pct(v) for k, v in under.items()}
        finally:
            for procs in hogs.values():
                for proc in procs:
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                    proc.wait()
            server.stop()
    out["load_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
