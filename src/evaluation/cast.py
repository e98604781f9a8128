"""The people of the evaluation scenarios: who is enrolled with which photos, and which photo shows them.

A photo shown in a video is never an enrolment photo: each person is shown in a probe photo of the manifest
(the one with the largest face; partial faces and near-duplicates of enrolment photos left out), or, lacking
one, in their last enrolment photo, which is then not enrolled.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from common.images import grey_thumbnail
from edge.faces import FaceFinder as EdgeFaceFinder

YUNET_MODEL = "models/face_detection_yunet_2023mar.onnx"
DETECT_SIDE = 1280  # YuNet runs on a copy whose longer side is at most this (it misfires on huge faces)
DUPLICATE_DISTANCE = 0.35  # thumbnail distance under which a probe counts as a copy of an enrolment photo

Box = tuple[float, float, float, float]  # x, y, width, height


class FaceFinder:
    """YuNet face boxes (x, y, width, height) of an image, largest first: the edge's face finder,
    searching a copy no larger than ``DETECT_SIDE`` (YuNet misfires on huge faces)."""

    def __init__(self, model: Path, score: float = 0.6) -> None:
        self._finder = EdgeFaceFinder(model, score_threshold=score, max_side=DETECT_SIDE)

    def boxes(self, image: np.ndarray) -> list[Box]:
        """Faces found on ``image``, in its own pixels."""
        found = [face.box for face in self._finder.detect(image, measure=False)]
        rows = [(float(x1), float(y1), float(x2 - x1), float(y2 - y1)) for x1, y1, x2, y2 in found]
        return sorted(rows, key=lambda box: box[2] * box[3], reverse=True)


@dataclass(frozen=True)
class Photo:
    """An asset photo, the enrolled people it shows and its faces (largest first)."""

    path: Path
    people: tuple[str, ...]
    image: np.ndarray = field(repr=False, compare=False)
    faces: tuple[Box, ...]

    @property
    def face_px(self) -> float:
        """Shorter side of the largest face box."""
        return min(self.faces[0][2:])


@dataclass(frozen=True)
class Cast:
    """Who is enrolled with which photos, and which photos the videos show."""

    assets: Path
    people: tuple[str, ...]
    enrol: dict[str, tuple[Path, ...]]
    shown: dict[str, Photo]
    groups: tuple[Photo, ...]
    strangers: tuple[Photo, ...]
    finder: FaceFinder = field(repr=False, compare=False)


def require_file(path: Path) -> Path:
    """``path`` if it exists, else a FileNotFoundError naming it."""
    if not path.exists():
        raise FileNotFoundError(f"missing asset: {path}")
    return path


def _read_image(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(str(require_file(path)), flags)
    if image is None:
        raise ValueError(f"cannot decode image: {path}")
    return image


def _read_manifest(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Rows of faces/manifest.csv: (file relative to faces/, sorted person ids)."""
    with require_file(path).open(newline="", encoding="utf-8") as fh:
        return [
            (row["file"].strip(), tuple(sorted(p for p in (row["expected_person_ids"] or "").split(";") if p)))
            for row in csv.DictReader(fh)
        ]


def _enrolment_photos(enroll_dir: Path) -> dict[str, tuple[Path, ...]]:
    """person id -> enrolment photos sorted by name, for every folder of ``enroll_dir`` holding a .jpg."""
    folders = sorted(p for p in require_file(enroll_dir).iterdir() if p.is_dir())
    photos = {folder.name: tuple(sorted(folder.glob("*.jpg"))) for folder in folders}
    return {person: paths for person, paths in photos.items() if paths}


def _thumbnail(path: Path) -> np.ndarray:
    """16x16 normalised grey thumbnail of the image with uniform (letterbox) borders trimmed."""
    grey = cv2.cvtColor(_read_image(path, cv2.IMREAD_REDUCED_COLOR_4), cv2.COLOR_BGR2GRAY)
    rows, cols = np.flatnonzero(grey.std(axis=1) > 8), np.flatnonzero(grey.std(axis=0) > 8)
    if rows.size and cols.size:
        grey = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    thumb = grey_thumbnail(grey, (16, 16))
    return (thumb - thumb.mean()) / (thumb.std() + 1e-6)


def _near_duplicate(path: Path, thumbnails: Sequence[np.ndarray]) -> bool:
    """Whether the image (letterboxed or not) looks like one of the ``thumbnails``."""
    thumb = _thumbnail(path)
    return any(float(np.abs(thumb - other).mean()) < DUPLICATE_DISTANCE for other in thumbnails)


def _load_photo(path: Path, people: tuple[str, ...], finder: FaceFinder) -> Photo:
    image = _read_image(path)
    return Photo(path, people, image, tuple(finder.boxes(image)))


def _pick_shown(person: str, enrolled: tuple[Path, ...], probes: list[Path], finder: FaceFinder) -> Photo:
    """The probe with the largest face, else the held-out last enrolment photo."""
    photos = [photo for photo in (_load_photo(p, (person,), finder) for p in probes) if photo.faces]
    if photos:
        return max(photos, key=lambda photo: photo.face_px)
    if len(enrolled) < 2:
        raise ValueError(f"{person} has one enrolment photo and no probe photo to show")
    return _load_photo(enrolled[-1], (person,), finder)


def load_cast(assets_dir: Path) -> Cast:
    """Enrolment photos of every person of faces/enroll and the photos the scenarios show."""
    faces_dir = assets_dir / "faces"
    manifest = _read_manifest(faces_dir / "manifest.csv")
    finder = FaceFinder(require_file(assets_dir / YUNET_MODEL))
    enrolment = _enrolment_photos(faces_dir / "enroll")
    probes = [
        (require_file(faces_dir / name), ids)
        for name, ids in manifest
        if name.startswith("probe/") and "partial" not in Path(name).name
    ]
    thumbnails = [_thumbnail(path) for paths in enrolment.values() for path in paths]
    enrol: dict[str, tuple[Path, ...]] = {}
    shown: dict[str, Photo] = {}
    for person, paths in enrolment.items():
        own = [path for path, ids in probes if ids == (person,) and not _near_duplicate(path, thumbnails)]
        shown[person] = _pick_shown(person, paths, own, finder)
        enrol[person] = tuple(p for p in paths if p != shown[person].path)
    groups = tuple(_load_photo(path, ids, finder) for path, ids in probes if len(ids) >= 2 and set(ids) <= set(enrol))
    strangers = tuple(_load_photo(path, ids, finder) for path, ids in probes if not ids)
    return Cast(assets_dir, tuple(enrol), enrol, shown, groups, strangers, finder)
