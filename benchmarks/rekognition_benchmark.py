"""Benchmark of the local Rekognition service: accuracy on the shared face set and search speed.

    .venv/bin/python benchmarks/rekognition_benchmark.py [--assets ../shared/assets] [--output res/benchmarks/rekognition.md]

Prints markdown:
1. accuracy: enrol faces/enroll/*, SearchFacesByImage every probe in faces/manifest.csv (through boto3);
2. distance distributions (same / different person) behind the Similarity calibration;
3. speed at collection sizes 100 and 10 000: the full request (HTTP + decode + detect + embed + search,
   through boto3) and the vector search alone (in-process), plus the naive per-row loop for comparison.
   Collections are padded with SYNTHETIC embeddings drawn from a Gaussian fitted to the real ones.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the service does (see rekognition_local/__init__.py)

import argparse  # noqa: E402
import csv  # noqa: E402
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rekognition_local.app import RunningServer, build  # noqa: E402
from rekognition_local.calibration import similarity_from_distance  # noqa: E402
from rekognition_local.imaging import decode_request_image  # noqa: E402
from rekognition_local.settings import RekognitionSettings  # noqa: E402
from rekognition_local.store import NewFace  # noqa: E402


def client(url: str) -> Any:
    return boto3.client(
        "rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def load_manifest(faces: Path) -> list[tuple[str, list[str]]]:
    with open(faces / "manifest.csv", newline="") as fh:
        return [(r["file"], [x for x in r["expected_person_ids"].split(";") if x]) for r in csv.DictReader(fh)]


def accuracy(c: Any, faces: Path, manifest: list[tuple[str, list[str]]], out: list[str]) -> None:
    c.create_collection(CollectionId="accuracy")
    for file, ids in manifest:
        if file.startswith("enroll/"):
            c.index_faces(CollectionId="accuracy", Image={"Bytes": (faces / file).read_bytes()}, ExternalImageId=ids[0], MaxFaces=1)
    rows, known_ok, known_n, unknown_ok, unknown_n = [], 0, 0, 0, 0
    for file, ids in manifest:
        if not file.startswith("probe/"):
            continue
        r = c.search_faces_by_image(CollectionId="accuracy", Image={"Bytes": (faces / file).read_bytes()}, FaceMatchThreshold=0, MaxFaces=1)
        top = r["FaceMatches"][0]
        person, sim = top["Face"]["ExternalImageId"], top["Similarity"]
        if ids:
            known_n += 1
            ok = person in ids and sim >= 80
            known_ok += ok
        else:
            unknown_n += 1
            ok = sim < 80
            unknown_ok += ok
        rows.append(f"| {file} | {';'.join(ids) or '(not enrolled)'} | {person} | {sim:.1f} | {'yes' if ok else 'NO'} |")
    out += [
        "## Accuracy on the shared face set (through boto3, default threshold 80)", "",
        f"- enrolled: {sum(1 for f, _ in manifest if f.startswith('enroll/'))} photos of "
        f"{len({ids[0] for f, ids in manifest if f.startswith('enroll/')})} people",
        f"- known probes, top-1 correct with Similarity >= 80: **{known_ok}/{known_n} ({known_ok / known_n:.1%})** "
        "(multi-face probes: the largest face must be one of the expected people)",
        f"- unknown probes with no match >= 80: **{unknown_ok}/{unknown_n}**", "",
        "| probe | expected | best match | similarity | ok |", "|---|---|---|---|---|", *rows, "",
    ]


def distances(engine: Any, faces: Path, manifest: list[tuple[str, list[str]]], out: list[str]) -> np.ndarray:
    """Embed every single-face image; print same/different distance stats; return the enrol embeddings."""
    labelled = []
    for file, ids in manifest:
        found = engine.analyse(decode_request_image((faces / file).read_bytes(), 10**8), 1)
        if len(found) == 1:
            labelled.append((ids[0] if ids else f"unknown:{file}", file, found[0].embedding))
    same, diff = [], []
    for i in range(len(labelled)):
        for j in range(i + 1, len(labelled)):
            d = float(np.linalg.norm(labelled[i][2] - labelled[j][2]))
            (same if labelled[i][0] == labelled[j][0] else diff).append(d)
    s, d = np.array(same), np.array(diff)

    def row(name: str, v: np.ndarray) -> str:
        p = np.percentile(v, [0, 5, 50, 95, 100])
        sims = similarity_from_distance(p)
        return f"| {name} | {len(v)} | " + " | ".join(f"{x:.3f} ({y:.1f})" for x, y in zip(p, sims, strict=True)) + " |"

    out += [
        "## Distance distributions behind the calibration", "",
        f"Pairs among {len(labelled)} single-face images (enrol + probes). Cells: Euclidean distance (Similarity).", "",
        "| pairs | n | min | p5 | median | p95 | max |", "|---|---|---|---|---|---|---|",
        row("same person", s), row("different people", d), "",
        f"Same-person pairs above 0.6: {(s > 0.6).sum()}; different-person pairs below 0.6: {(d < 0.6).sum()}. "
        f"Gap between the largest same-person and the smallest different-person distance: {s.max():.3f} .. {d.min():.3f}.", "",
    ]
    return np.array([e for _, f, e in labelled if f.startswith("enroll/")])


def synthetic(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-dimension Gaussian with the real embeddings' mean and spread (a full covariance from
    21 samples is rank-deficient and would pile synthetic faces up near the mean)."""
    return rng.normal(real.mean(axis=0), real.std(axis=0), size=(n, real.shape[1])).astype(np.float32)


def timed_requests(url: str, collections: list[str], data: bytes, clients: int, rounds: int) -> tuple[float, dict[str, list[float]]]:
    """Throughput (requests/s) and per-collection latencies (ms, sorted) of SearchFacesByImage.

    Each of ``clients`` concurrent boto3 clients runs ``rounds`` rounds, one request per collection per
    round, so every collection size sees the same machine load (the machine is shared and noisy).
    """
    latencies: dict[str, list[float]] = {name: [] for name in collections}
    lock = threading.Lock()

    def worker() -> None:
        c = client(url)
        c.search_faces_by_image(CollectionId=collections[0], Image={"Bytes": data})  # connection warm-up
        for _ in range(rounds):
            for name in collections:
                t = time.perf_counter()
                c.search_faces_by_image(CollectionId=name, Image={"Bytes": data})
                with lock:
                    latencies[name].append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    total = sum(len(v) for v in latencies.values())
    return total / elapsed, {k: sorted(v) for k, v in latencies.items()}


SIZES = (100, 10_000)


def full_requests(url: str, faces: Path, requests: int, processes: int) -> list[str]:
    """Table rows of the full-request speed, sizes interleaved."""
    probe = (faces / "probe/obama_small.jpg").read_bytes()
    names = [f"size{size}" for size in SIZES]
    rows = []
    for clients_n in (1, 4):
        rps, latencies = timed_requests(url, names, probe, clients_n, max(1, requests // (clients_n * len(names))))
        for size, name in zip(SIZES, names, strict=True):
            v = latencies[name]
            rows.append(f"| {size} | {processes} | {clients_n} | {rps:.1f} | {statistics.median(v):.0f} | {v[int(0.95 * (len(v) - 1))]:.0f} |")
    return rows


def vector_speed(components: Any, url: str, faces: Path, real: np.ndarray) -> list[str]:
    """Create the padded collections; return table rows of the in-process vector search speed."""
    rng = np.random.default_rng(7)
    store, engine = components.store, components.engine
    probe = (faces / "probe/obama_small.jpg").read_bytes()
    query = engine.analyse(decode_request_image(probe, 10**8), 1)[0].embedding
    c = client(url)
    rows_vec = []
    for size in SIZES:
        name = f"size{size}"
        c.create_collection(CollectionId=name)
        c.index_faces(CollectionId=name, Image={"Bytes": (faces / "enroll/obama/1.jpg").read_bytes()}, ExternalImageId="obama")
        fake = synthetic(real, size - 1, rng)
        store.add_faces(name, [
            NewFace(str(uuid.uuid4()), "synthetic", "synthetic", {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}, 99.0, "synthetic", v)
            for v in fake
        ])
        fake_sims = similarity_from_distance(np.linalg.norm(fake - query, axis=1))
        nearest_fake = float(fake_sims.max())
        fake_matches = int((fake_sims >= 80).sum())
        t = time.perf_counter()
        index = store.index(name)
        build_ms = (time.perf_counter() - t) * 1000
        hits = index.search(query, 10, 80)
        assert hits and hits[0][0]["ExternalImageId"] == "obama", "the real face must win"
        loops = 2000 if size <= 100 else 300
        t = time.perf_counter()
        for _ in range(loops):
            index.search(query, 10, 80)
        vec = loops / (time.perf_counter() - t)
        naive_loops = 20
        t = time.perf_counter()
        for _ in range(naive_loops):
            scored = [(float(np.linalg.norm(row - query)), i) for i, row in enumerate(index.matrix)]
            scored.sort()
        naive = naive_loops / (time.perf_counter() - t)
        rows_vec.append(f"| {size} | {vec:,.0f} | {1000 / vec:.3f} | {naive:,.1f} | {vec / naive:,.0f}x | {build_ms:.0f} | {nearest_fake:.1f} / {fake_matches} |")
    return rows_vec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets")))
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    parser.add_argument("--requests", type=int, default=40, help="full requests per speed row")
    parser.add_argument("--embedding-processes", type=int, nargs="+", default=[0, 2],
                        help="ROLLCALL_REKOG_EMBEDDING_PROCESSES values to measure the full request with (side by side)")
    args = parser.parse_args()
    faces = args.assets / "faces"
    manifest = load_manifest(faces)
    out = [
        "# Local Rekognition service benchmark", "",
        f"`benchmarks/rekognition_benchmark.py` on {platform.machine()} with {os.cpu_count()} CPUs "
        f"(load average at start {os.getloadavg()[0]:.1f}; the machine is shared, expect noise), "
        f"Python {platform.python_version()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}.", "",
    ]
    rows_full: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, processes in enumerate(args.embedding_processes):
            settings = RekognitionSettings(models_dir=args.assets / "models", models_mirror="", data_dir=Path(tmp),
                                           embedding_processes=processes,
                                           access_keys=("AKIDBENCH:bench",))  # the pair client() signs with
            components = build(settings)
            server = RunningServer(components, "127.0.0.1", 0, threads=8).start()
            try:
                if n == 0:
                    accuracy(client(server.url), faces, manifest, out)
                    real = distances(components.engine, faces, manifest, out)
                    rows_vec = vector_speed(components, server.url, faces, real)
                rows_full += full_requests(server.url, faces, args.requests, processes)
            finally:
                server.stop()
    out += [
        "## Speed", "",
        "Each collection holds 1 real face (Obama, enrolled through IndexFaces) plus SYNTHETIC embeddings drawn from a "
        "per-dimension Gaussian with the mean and spread of the real enrol embeddings, inserted straight into the "
        "store to reach the size. The real face is the top match in every search.", "",
        f"### Full request: SearchFacesByImage through boto3 (probe/obama_small.jpg 320x240: HTTP + base64 + decode + "
        f"YuNet + dlib embedding + search; ~{args.requests} requests per client count, alternating between the two sizes)", "",
        "| collection size | embedding processes | concurrent clients | searches/s (both sizes interleaved) | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|", *rows_full, "",
        "### Vector search alone (in-process, top 10, threshold 80)", "",
        "| collection size | searches/s | ms/search | naive per-row loop searches/s | speed-up | matrix build ms (cold, after a write) | best synthetic similarity / synthetic matches >= 80 |",
        "|---|---|---|---|---|---|---|", *rows_vec, "",
    ]
    text = "\n".join(out)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
