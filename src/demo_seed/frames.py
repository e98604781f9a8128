"""Demo camera frames: probe photos of enrolled students, letterboxed to one frame size.

None of the shared demo videos shows an enrolled person, so a camera that should
produce attendance replays these photos instead (an image-folder source of the IoT
tier). They are different photos from the enrolment ones, so recognising them is a
real match, not an echo of the enrolment image.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.images import ImageDecodeError, decode_image, encode_jpeg


@dataclass(frozen=True)
class Probe:
    """One probe photo and the enrolled people it shows (empty = only unknown people)."""

    path: Path
    people: tuple[str, ...]


def select_probes(manifest: Path, probe_dir: Path, enrolled: set[str], include_unknown: bool = True) -> list[Probe]:
    """Probe photos (rows ``probe/...`` of the manifest) whose people are all enrolled.

    Partial faces are left out (a classroom camera sees whole faces); photos of people
    nobody enrolled are kept when ``include_unknown``. Missing files are skipped.
    """
    chosen: list[Probe] = []
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = (row.get("file") or "").strip()
            if not name.startswith("probe/") or "partial" in name:
                continue
            people = tuple(p for p in (row.get("expected_person_ids") or "").split(";") if p)
            if people and not set(people) <= enrolled:
                continue
            if not people and not include_unknown:
                continue
            path = probe_dir / Path(name).name
            if path.is_file():
                chosen.append(Probe(path, people))
    return chosen


def letterbox(image: np.ndarray, width: int, height: int, fill: int = 96) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` (aspect kept), centred on a grey canvas."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    canvas = np.full((height, width, 3), fill, dtype=np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y : y + new_h, x : x + new_w] = resized
    return canvas


def write_frames(probes: list[Probe], out_dir: Path, width: int, height: int) -> list[Path]:
    """Write one JPEG per readable probe into ``out_dir`` (old frames there are replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jpg"):
        old.unlink()
    written: list[Path] = []
    for index, probe in enumerate(probes):
        try:
            image = decode_image(probe.path.read_bytes())
        except (OSError, ImageDecodeError):
            continue
        target = out_dir / f"{index:03d}_{probe.path.stem}.jpg"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(encode_jpeg(letterbox(image, width, height), quality=90))
        tmp.replace(target)
        written.append(target)
    return written
