"""Evaluation scenarios built from the shared assets: enrolment photos, a camera video and the expected attendance.

    python -m evaluation.scenarios OUT_DIR [--assets DIR] [--only NAME ...]

Every scenario folder holds::

    enroll/<student_id>/<n>.jpg   enrolment photos (copies of assets/faces/enroll); all people are enrolled
    video.mp4                     the camera (mp4v, 10 fps, 1280x720): photos placed on a neutral background
    expected.txt                  students who must be marked present, one per line ('#' starts a comment)
    scenario.json                 name, description, fps_video, appearances {student: [[start_s, end_s], ...]},
                                  strangers (distinct sources of people nobody enrolled), sources (asset files shown)

A photo shown in a video is never an enrolment photo: each person is shown in a probe photo of the manifest
(the one with the largest face; partial faces and near-duplicates of enrolment photos left out), or, lacking
one, in their last enrolment photo, which is then not enrolled.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import functools
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

FPS = 10
FRAME_W, FRAME_H = 1280, 720
SCENARIO_NAMES: tuple[str, ...] = (
    "one_after_another", "two_in_frame", "three_in_frame", "leave_and_return", "small_faces", "brief",
    "strangers_only",
)
YUNET_MODEL = "models/face_detection_yunet_2023mar.onnx"
STRANGER_VIDEOS = ("video/classroom.gif", "video/face-demographics-walking.gif")
SOLO_FACE_PX = 150  # face size (shorter side of the YuNet box) of a person alone in the frame
GROUP_FACE_PX = 110  # smallest enrolled face of a group photo or side-by-side composite
SMALL_FACE_PX = (44, 52, 60)
DETECT_SIDE = 1280  # YuNet runs on a copy whose longer side is at most this (it misfires on huge faces)
DUPLICATE_DISTANCE = 0.35  # thumbnail distance under which a probe counts as a copy of an enrolment photo
CENTRE = (FRAME_W // 2, 300)  # where a lone person's face is placed

Box = tuple[float, float, float, float]  # x, y, width, height


class FaceFinder:
    """YuNet face boxes of an image, largest first, in the image's own pixels."""

    def __init__(self, model: Path, score: float = 0.6) -> None:
        self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score, 0.3, 5000)

    def boxes(self, image: np.ndarray) -> list[Box]:
        """Faces found on ``image`` (scaled down first when larger than ``DETECT_SIDE``)."""
        scale = min(1.0, DETECT_SIDE / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, found = self._net.detect(small)
        rows = [] if found is None else [tuple(float(v) / scale for v in row[:4]) for row in found]
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


@dataclass(frozen=True)
class Cutout:
    """Part of a scaled photo and the point of it (e.g. a face centre) that placement refers to."""

    image: np.ndarray
    focus: tuple[int, int]


def _require(path: Path) -> Path:
    """``path`` if it exists, else a FileNotFoundError naming it."""
    if not path.exists():
        raise FileNotFoundError(f"missing asset: {path}")
    return path


def _read_image(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(str(_require(path)), flags)
    if image is None:
        raise ValueError(f"cannot decode image: {path}")
    return image


def _read_manifest(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Rows of faces/manifest.csv: (file relative to faces/, sorted person ids)."""
    with _require(path).open(newline="", encoding="utf-8") as fh:
        return [(row["file"].strip(), tuple(sorted(p for p in (row["expected_person_ids"] or "").split(";") if p)))
                for row in csv.DictReader(fh)]


def _enrolment_photos(enroll_dir: Path) -> dict[str, tuple[Path, ...]]:
    """person id -> enrolment photos sorted by name, for every folder of ``enroll_dir`` holding a .jpg."""
    folders = sorted(p for p in _require(enroll_dir).iterdir() if p.is_dir())
    photos = {folder.name: tuple(sorted(folder.glob("*.jpg"))) for folder in folders}
    return {person: paths for person, paths in photos.items() if paths}


def _thumbnail(path: Path) -> np.ndarray:
    """16x16 normalised grey thumbnail of the image with uniform (letterbox) borders trimmed."""
    grey = cv2.cvtColor(_read_image(path, cv2.IMREAD_REDUCED_COLOR_4), cv2.COLOR_BGR2GRAY)
    rows, cols = np.flatnonzero(grey.std(axis=1) > 8), np.flatnonzero(grey.std(axis=0) > 8)
    if rows.size and cols.size:
        grey = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    thumb = cv2.resize(grey, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
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
    finder = FaceFinder(_require(assets_dir / YUNET_MODEL))
    enrolment = _enrolment_photos(faces_dir / "enroll")
    probes = [(_require(faces_dir / name), ids) for name, ids in manifest
              if name.startswith("probe/") and "partial" not in Path(name).name]
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


def _pick(people: Sequence[str], count: int, offset: int, exclude: Sequence[str] = ()) -> list[str]:
    """``count`` people taken in order from ``people`` rotated by ``offset``, skipping ``exclude``."""
    rotated = [*people[offset % len(people) :], *people[: offset % len(people)]]
    chosen = [person for person in rotated if person not in exclude][:count]
    if len(chosen) < count:
        raise ValueError(f"need {count} people besides {list(exclude)}, have {len(chosen)}")
    return chosen


@functools.cache
def _background() -> np.ndarray:
    """Mid-grey canvas with a gentle gradient and fixed light noise (no people)."""
    rng = np.random.default_rng(7)
    level = np.linspace(104, 136, FRAME_W)[None, :] + np.linspace(-8, 8, FRAME_H)[:, None]
    level = level + rng.normal(0, 3, (FRAME_H, FRAME_W))
    return np.repeat(np.clip(level, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _cut(image: np.ndarray, scale: float, focus: tuple[float, float], size: tuple[int, int],
         focus_at: tuple[float, float] = (0.5, 0.4)) -> Cutout:
    """``image`` scaled by ``scale`` and cropped to at most ``size`` (w, h), ``focus`` at ``focus_at`` of it
    (fractions of the crop; the crop stays inside the image)."""
    h, w = image.shape[:2]
    win_w, win_h = min(w, size[0] / scale), min(h, size[1] / scale)
    x0 = int(min(max(focus[0] - win_w * focus_at[0], 0), w - win_w))
    y0 = int(min(max(focus[1] - win_h * focus_at[1], 0), h - win_h))
    x1, y1 = min(w, round(x0 + win_w)), min(h, round(y0 + win_h))
    out = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image[y0:y1, x0:x1], out, interpolation=interpolation)
    return Cutout(resized, (round((focus[0] - x0) * scale), round((focus[1] - y0) * scale)))


def _person(cast: Cast, photo: Photo, face_px: float, size: tuple[int, int]) -> Cutout:
    """Head and shoulders of the photo's largest face, scaled so the face's shorter side is ``face_px``.

    YuNet boxes do not scale exactly with the image, so the face is measured again on the scaled cutout
    and the scale corrected once.
    """
    x, y, w, h = photo.faces[0]
    centre, scale = (x + w / 2, y + h / 2), face_px / photo.face_px
    cut = _cut(photo.image, scale, centre, size)
    boxes = cast.finder.boxes(cut.image)
    if boxes:
        nearest = min(boxes, key=lambda b: abs(b[0] + b[2] / 2 - cut.focus[0]) + abs(b[1] + b[3] / 2 - cut.focus[1]))
        cut = _cut(photo.image, scale * face_px / min(nearest[2:]), centre, size)
    return cut


def _group(photo: Photo, face_px: float) -> Cutout:
    """A multi-person photo scaled so its smallest enrolled face has ``face_px`` (all faces kept in frame)."""
    adults = photo.faces[: len(photo.people)]  # the enrolled people have the largest faces
    x0, y0 = min(f[0] for f in photo.faces), min(f[1] for f in photo.faces)
    x1, y1 = max(f[0] + f[2] for f in photo.faces), max(f[1] + f[3] for f in photo.faces)
    scale = min(face_px / min(min(f[2:]) for f in adults), 0.9 * FRAME_W / (x1 - x0), 0.9 * FRAME_H / (y1 - y0))
    return _cut(photo.image, scale, ((x0 + x1) / 2, (y0 + y1) / 2), (FRAME_W, FRAME_H), (0.5, 0.5))


def _fit(image: np.ndarray) -> Cutout:
    """The whole image scaled to fit the frame (letterbox)."""
    h, w = image.shape[:2]
    return _cut(image, min(FRAME_W / w, FRAME_H / h), (w / 2, h / 2), (FRAME_W, FRAME_H), (0.5, 0.5))


def _paste(canvas: np.ndarray, cut: Cutout, at: tuple[int, int]) -> np.ndarray:
    """Draw ``cut`` on ``canvas`` (in place) with its focus at ``at``; parts outside the canvas are dropped."""
    x, y = at[0] - cut.focus[0], at[1] - cut.focus[1]
    h, w = cut.image.shape[:2]
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if left < right and top < bottom:
        canvas[top:bottom, left:right] = cut.image[top - y : bottom - y, left - x : right - x]
    return canvas


def _frame(*placed: tuple[Cutout, tuple[int, int]]) -> np.ndarray:
    """The background with each cutout pasted at its position."""
    canvas = _background().copy()
    for cut, at in placed:
        _paste(canvas, cut, at)
    return canvas


def _side_by_side(cast: Cast, photos: Sequence[Photo], face_px: float) -> np.ndarray:
    """One person per photo, in equal slots across the frame."""
    slot = FRAME_W // len(photos)
    return _frame(*((_person(cast, p, face_px, (slot - 16, FRAME_H)), (slot * i + slot // 2, CENTRE[1]))
                    for i, p in enumerate(photos)))


@dataclass
class Timeline:
    """Writes a scenario's video frame by frame and notes who is visible when."""

    path: Path
    writer: cv2.VideoWriter = field(init=False)
    frames: int = 0
    visible: dict[str, list[int]] = field(default_factory=dict)
    sources: set[Path] = field(default_factory=set)
    strangers: int = 0

    def __post_init__(self) -> None:
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (FRAME_W, FRAME_H))
        if not self.writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write mp4v video: {self.path}")

    def write(self, frame: np.ndarray, photos: Sequence[Photo] = ()) -> None:
        """Append one frame showing ``photos`` (their people count as visible)."""
        self.writer.write(frame)
        for photo in photos:
            self.sources.add(photo.path)
            for person in photo.people:
                self.visible.setdefault(person, []).append(self.frames)
        self.frames += 1

    def hold(self, frame: np.ndarray, seconds: float, photos: Sequence[Photo] = ()) -> None:
        """Append ``frame`` for ``seconds``."""
        for _ in range(round(seconds * FPS)):
            self.write(frame, photos)

    def empty(self, seconds: float) -> None:
        """Append the bare background for ``seconds``."""
        self.hold(_background(), seconds)

    def appearances(self) -> dict[str, list[list[float]]]:
        """student -> [[start_s, end_s], ...] of runs of consecutive frames in which they are visible."""
        result: dict[str, list[list[float]]] = {}
        for person, frames in sorted(self.visible.items()):
            runs: list[list[int]] = []
            for index in frames:
                if runs and index == runs[-1][1]:
                    runs[-1][1] = index + 1
                else:
                    runs.append([index, index + 1])
            result[person] = [[start / FPS, end / FPS] for start, end in runs]
        return result


def _one_after_another(cast: Cast, tl: Timeline) -> str:
    for person in cast.people:
        photo = cast.shown[person]
        tl.hold(_frame((_person(cast, photo, SOLO_FACE_PX, (560, FRAME_H)), CENTRE)), 2.0, [photo])
    return f"All {len(cast.people)} students one after another at the same place, 2 s each, no gap."


def _pairs(cast: Cast) -> list[Photo]:
    """Group photos of exactly two enrolled people and two faces."""
    return [g for g in cast.groups if len(g.people) == len(g.faces) == 2]


def _in_frame(cast: Cast, tl: Timeline, groups: list[Photo], composite: int, offset: int) -> str:
    """Each group photo for 3 s, then ``composite`` other people side by side for 3 s, 1 s of background between."""
    for photo in groups:
        tl.hold(_frame((_group(photo, GROUP_FACE_PX), (FRAME_W // 2, FRAME_H // 2))), 3.0, [photo])
        tl.empty(1.0)
    others = _pick(cast.people, composite, offset, exclude=[p for g in groups for p in g.people])
    photos = [cast.shown[p] for p in others]
    tl.hold(_side_by_side(cast, photos, GROUP_FACE_PX), 3.0, photos)
    names = ", ".join(p.path.name for p in groups)
    return (f"Group photos ({names or 'none'}) 3 s each, then {', '.join(others)} side by side for 3 s; "
            "1 s of background between.")


def _two_in_frame(cast: Cast, tl: Timeline) -> str:
    return _in_frame(cast, tl, _pairs(cast), 2, 0)


def _three_in_frame(cast: Cast, tl: Timeline) -> str:
    pairs = _pairs(cast)
    return _in_frame(cast, tl, [g for g in cast.groups if g not in pairs], 3, 3)


def _leave_and_return(cast: Cast, tl: Timeline) -> str:
    first, second = (cast.shown[p] for p in _pick(cast.people, 2, 7))
    cut = _person(cast, first, SOLO_FACE_PX, (560, FRAME_H))
    steps = FPS  # 1 s slides
    start, end = cut.focus[0] - cut.image.shape[1], FRAME_W + cut.focus[0]  # focus x with the photo just outside
    for k in range(steps):
        tl.write(_frame((cut, (round(start + (CENTRE[0] - start) * (k + 1) / steps), CENTRE[1]))), [first])
    tl.hold(_frame((cut, CENTRE)), 2.0, [first])
    for k in range(steps):
        tl.write(_frame((cut, (round(CENTRE[0] + (end - CENTRE[0]) * k / steps), CENTRE[1]))), [first])
    tl.empty(3.0)
    tl.hold(_frame((cut, CENTRE)), 2.0, [first])
    tl.empty(1.0)
    tl.hold(_frame((_person(cast, second, SOLO_FACE_PX, (560, FRAME_H)), CENTRE)), 2.0, [second])
    a, b = first.people[0], second.people[0]
    return (f"{a} slides in from the left (1 s), stays 2 s, slides out to the right (1 s); 3 s empty; {a} is back "
            f"for 2 s; 1 s empty; then {b} for 2 s where {a} stood.")


def _small_faces(cast: Cast, tl: Timeline) -> str:
    people = _pick(cast.people, len(SMALL_FACE_PX), 1)
    photos = [cast.shown[p] for p in people]
    cuts = [_person(cast, p, px, (px * 4, px * 5)) for p, px in zip(photos, SMALL_FACE_PX)]
    places = [(260, 250), (660, 470), (1040, 300)]
    rng = np.random.default_rng(11)
    for _ in range(4 * FPS):
        jitter = rng.integers(-3, 4, size=(len(cuts), 2))
        tl.write(_frame(*((c, (x + int(dx), y + int(dy))) for c, (x, y), (dx, dy) in zip(cuts, places, jitter))),
                 photos)
    sizes = ", ".join(f"{p} {px} px" for p, px in zip(people, SMALL_FACE_PX))
    return f"Three small faces at once for 4 s, jittering by up to 3 px: {sizes}."


def _brief(cast: Cast, tl: Timeline) -> str:
    people = _pick(cast.people, 4, 4)
    places = [(320, 220), (960, 220), (320, 520), (960, 520)]
    for person, place in zip(people, places):
        photo = cast.shown[person]
        tl.hold(_frame((_person(cast, photo, GROUP_FACE_PX, (440, 340)), place)), 1.0, [photo])
        tl.empty(1.0)
    return f"{', '.join(people)}: each visible for 1 s at a different place, each followed by 1 s of background."


def _video_frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Start times (ms) and frames of a video or animated GIF, read with OpenCV."""
    capture = cv2.VideoCapture(str(_require(path)))
    starts: list[float] = []
    frames: list[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        starts.append(capture.get(cv2.CAP_PROP_POS_MSEC))
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS) or FPS
    capture.release()
    if not frames:
        raise ValueError(f"OpenCV read no frame from {path}")
    if any(b <= a for a, b in zip(starts, starts[1:])):  # no usable timestamps: even spacing
        starts = [i * 1000 / fps for i in range(len(frames))]
    return starts, frames


def _loop_video(tl: Timeline, path: Path, seconds: float) -> None:
    """Append ``seconds`` of the video, looped and scaled to the frame, each source frame kept for its duration."""
    starts, frames = _video_frames(path)
    period = starts[-1] + (float(np.median(np.diff(starts))) if len(starts) > 1 else 1000 / FPS)
    for index in range(round(seconds * FPS)):
        shown = bisect.bisect_right(starts, (index * 1000 / FPS) % period) - 1
        tl.write(cv2.resize(frames[max(shown, 0)], (FRAME_W, FRAME_H), interpolation=cv2.INTER_LINEAR))


def _strangers_only(cast: Cast, tl: Timeline) -> str:
    if not cast.strangers:
        raise ValueError("the manifest lists no probe photo of a person nobody enrolled")
    for relative in STRANGER_VIDEOS:
        path = cast.assets / relative
        _loop_video(tl, path, 5.0)
        tl.sources.add(path)
    stranger = cast.strangers[0]
    tl.hold(_frame((_fit(stranger.image), (FRAME_W // 2, FRAME_H // 2))), 3.0, [stranger])
    tl.strangers = len(STRANGER_VIDEOS) + 1
    names = ", ".join(Path(v).name for v in STRANGER_VIDEOS)
    return f"Only people nobody enrolled: {names} (5 s each, looped), then {stranger.path.name} for 3 s."


BUILDERS: dict[str, Callable[[Cast, Timeline], str]] = {
    "one_after_another": _one_after_another,
    "two_in_frame": _two_in_frame,
    "three_in_frame": _three_in_frame,
    "leave_and_return": _leave_and_return,
    "small_faces": _small_faces,
    "brief": _brief,
    "strangers_only": _strangers_only,
}


def _copy_enrolment(cast: Cast, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for person, paths in cast.enrol.items():
        (folder / person).mkdir(parents=True)
        for path in paths:
            shutil.copyfile(path, folder / person / path.name)


def _write_scenario(name: str, cast: Cast, folder: Path) -> Path:
    """Build one scenario folder."""
    folder.mkdir(parents=True, exist_ok=True)
    _copy_enrolment(cast, folder / "enroll")
    timeline = Timeline(folder / "video.mp4")
    try:
        description = BUILDERS[name](cast, timeline)
    finally:
        timeline.writer.release()
    _check_video(timeline.path, timeline.frames)
    appearances = timeline.appearances()
    expected = "".join(f"{person}\n" for person in sorted(appearances))
    (folder / "expected.txt").write_text(f"# students who must be marked present in {name}\n{expected}",
                                         encoding="utf-8")
    meta = {"name": name, "description": description, "fps_video": FPS, "appearances": appearances,
            "strangers": timeline.strangers,
            "sources": sorted(p.relative_to(cast.assets).as_posix() for p in timeline.sources)}
    (folder / "scenario.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


def _check_video(path: Path, frames: int) -> None:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    if count != frames:
        raise RuntimeError(f"{path}: OpenCV reports {count} frames, {frames} were written")


def build_scenarios(assets_dir: Path, out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """Build every scenario (or the named ones) into ``out_dir/<name>/``; return their folders in order."""
    chosen = list(SCENARIO_NAMES) if names is None else list(names)
    unknown = sorted(set(chosen) - set(SCENARIO_NAMES))
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIO_NAMES)}")
    cast = load_cast(Path(assets_dir))
    return [_write_scenario(name, cast, Path(out_dir) / name) for name in chosen]


def default_assets_dir() -> Path:
    """ROLLCALL_ASSETS_DIR, else ../shared/assets beside the repository."""
    return Path(os.environ.get("ROLLCALL_ASSETS_DIR") or Path(__file__).resolve().parents[3] / "shared" / "assets")


def _summary(folder: Path) -> str:
    meta = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    capture = cv2.VideoCapture(str(folder / "video.mp4"))
    seconds = capture.get(cv2.CAP_PROP_FRAME_COUNT) / FPS
    capture.release()
    return f"{meta['name']}: {folder} ({seconds:.1f} s, expected: {', '.join(meta['appearances']) or 'nobody'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.scenarios",
                                     description="Build the attendance evaluation scenarios from the shared assets.")
    parser.add_argument("out_dir", type=Path, help="folder that receives one sub-folder per scenario")
    parser.add_argument("--assets", type=Path, default=None,
                        help="shared assets folder (default: ROLLCALL_ASSETS_DIR, else ../shared/assets)")
    parser.add_argument("--only", nargs="+", action="extend", choices=SCENARIO_NAMES, metavar="NAME",
                        help=f"build only these scenarios ({', '.join(SCENARIO_NAMES)})")
    args = parser.parse_args(argv)
    try:
        folders = build_scenarios(args.assets or default_assets_dir(), args.out_dir, args.only)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for folder in folders:
        print(_summary(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
