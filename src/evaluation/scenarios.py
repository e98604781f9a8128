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
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .cast import Cast, Photo, load_cast, require_file
from .composition import (
    CENTRE,
    FPS,
    FRAME_H,
    FRAME_W,
    Timeline,
    compose_frame,
    fit_cutout,
    group_cutout,
    person_cutout,
    pick_people,
    side_by_side,
)

SCENARIO_NAMES: tuple[str, ...] = (
    "one_after_another",
    "two_in_frame",
    "three_in_frame",
    "leave_and_return",
    "small_faces",
    "brief",
    "strangers_only",
)
STRANGER_VIDEOS = ("video/classroom.gif", "video/face-demographics-walking.gif")
SOLO_FACE_PX = 150  # face size (shorter side of the YuNet box) of a person alone in the frame
GROUP_FACE_PX = 110  # smallest enrolled face of a group photo or side-by-side composite
SMALL_FACE_PX = (44, 52, 60)


def _one_after_another(cast: Cast, tl: Timeline) -> str:
    for person in cast.people:
        photo = cast.shown[person]
        tl.hold(compose_frame((person_cutout(cast, photo, SOLO_FACE_PX, (560, FRAME_H)), CENTRE)), 2.0, [photo])
    return f"All {len(cast.people)} students one after another at the same place, 2 s each, no gap."


def _pairs(cast: Cast) -> list[Photo]:
    """Group photos of exactly two enrolled people and two faces."""
    return [g for g in cast.groups if len(g.people) == len(g.faces) == 2]


def _in_frame(cast: Cast, tl: Timeline, groups: list[Photo], composite: int, offset: int) -> str:
    """Each group photo for 3 s, then ``composite`` other people side by side for 3 s, 1 s of background between."""
    for photo in groups:
        tl.hold(compose_frame((group_cutout(photo, GROUP_FACE_PX), (FRAME_W // 2, FRAME_H // 2))), 3.0, [photo])
        tl.empty(1.0)
    others = pick_people(cast.people, composite, offset, exclude=[p for g in groups for p in g.people])
    photos = [cast.shown[p] for p in others]
    tl.hold(side_by_side(cast, photos, GROUP_FACE_PX), 3.0, photos)
    names = ", ".join(p.path.name for p in groups)
    return (
        f"Group photos ({names or 'none'}) 3 s each, then {', '.join(others)} side by side for 3 s; "
        "1 s of background between."
    )


def _two_in_frame(cast: Cast, tl: Timeline) -> str:
    return _in_frame(cast, tl, _pairs(cast), 2, 0)


def _three_in_frame(cast: Cast, tl: Timeline) -> str:
    pairs = _pairs(cast)
    return _in_frame(cast, tl, [g for g in cast.groups if g not in pairs], 3, 3)


def _leave_and_return(cast: Cast, tl: Timeline) -> str:
    first, second = (cast.shown[p] for p in pick_people(cast.people, 2, 7))
    cut = person_cutout(cast, first, SOLO_FACE_PX, (560, FRAME_H))
    steps = FPS  # 1 s slides
    start, end = cut.focus[0] - cut.image.shape[1], FRAME_W + cut.focus[0]  # focus x with the photo just outside
    for k in range(steps):
        tl.write(compose_frame((cut, (round(start + (CENTRE[0] - start) * (k + 1) / steps), CENTRE[1]))), [first])
    tl.hold(compose_frame((cut, CENTRE)), 2.0, [first])
    for k in range(steps):
        tl.write(compose_frame((cut, (round(CENTRE[0] + (end - CENTRE[0]) * k / steps), CENTRE[1]))), [first])
    tl.empty(3.0)
    tl.hold(compose_frame((cut, CENTRE)), 2.0, [first])
    tl.empty(1.0)
    tl.hold(compose_frame((person_cutout(cast, second, SOLO_FACE_PX, (560, FRAME_H)), CENTRE)), 2.0, [second])
    a, b = first.people[0], second.people[0]
    return (
        f"{a} slides in from the left (1 s), stays 2 s, slides out to the right (1 s); 3 s empty; {a} is back "
        f"for 2 s; 1 s empty; then {b} for 2 s where {a} stood."
    )


def _small_faces(cast: Cast, tl: Timeline) -> str:
    people = pick_people(cast.people, len(SMALL_FACE_PX), 1)
    photos = [cast.shown[p] for p in people]
    cuts = [person_cutout(cast, p, px, (px * 4, px * 5)) for p, px in zip(photos, SMALL_FACE_PX, strict=False)]
    places = [(260, 250), (660, 470), (1040, 300)]
    rng = np.random.default_rng(11)
    for _ in range(4 * FPS):
        jitter = rng.integers(-3, 4, size=(len(cuts), 2))
        placed = [(c, (x + int(dx), y + int(dy))) for c, (x, y), (dx, dy) in zip(cuts, places, jitter, strict=True)]
        tl.write(compose_frame(*placed), photos)
    sizes = ", ".join(f"{p} {px} px" for p, px in zip(people, SMALL_FACE_PX, strict=False))
    return f"Three small faces at once for 4 s, jittering by up to 3 px: {sizes}."


def _brief(cast: Cast, tl: Timeline) -> str:
    people = pick_people(cast.people, 4, 4)
    places = [(320, 220), (960, 220), (320, 520), (960, 520)]
    for person, place in zip(people, places, strict=False):
        photo = cast.shown[person]
        tl.hold(compose_frame((person_cutout(cast, photo, GROUP_FACE_PX, (440, 340)), place)), 1.0, [photo])
        tl.empty(1.0)
    return f"{', '.join(people)}: each visible for 1 s at a different place, each followed by 1 s of background."


def _video_frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Start times (ms) and frames of a video or animated GIF, read with OpenCV."""
    capture = cv2.VideoCapture(str(require_file(path)))
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
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):  # no usable timestamps: even spacing
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
    tl.hold(compose_frame((fit_cutout(stranger.image), (FRAME_W // 2, FRAME_H // 2))), 3.0, [stranger])
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
    (folder / "expected.txt").write_text(
        f"# students who must be marked present in {name}\n{expected}", encoding="utf-8"
    )
    meta = {
        "name": name,
        "description": description,
        "fps_video": FPS,
        "appearances": appearances,
        "strangers": timeline.strangers,
        "sources": sorted(p.relative_to(cast.assets).as_posix() for p in timeline.sources),
    }
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
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.scenarios",
        description="Build the attendance evaluation scenarios from the shared assets.",
    )
    parser.add_argument("out_dir", type=Path, help="folder that receives one sub-folder per scenario")
    parser.add_argument(
        "--assets",
        type=Path,
        default=None,
        help="shared assets folder (default: ROLLCALL_ASSETS_DIR, else ../shared/assets)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        choices=SCENARIO_NAMES,
        metavar="NAME",
        help=f"build only these scenarios ({', '.join(SCENARIO_NAMES)})",
    )
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
