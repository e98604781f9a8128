"""Composing scenario videos: photos cut around their faces, placed on a neutral background, frame by frame."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .cast import Cast, Photo

FPS = 10
FRAME_W, FRAME_H = 1280, 720
CENTRE = (FRAME_W // 2, 300)  # where a lone person's face is placed


@dataclass(frozen=True)
class Cutout:
    """Part of a scaled photo and the point of it (e.g. a face centre) that placement refers to."""

    image: np.ndarray
    focus: tuple[int, int]


def pick_people(people: Sequence[str], count: int, offset: int, exclude: Sequence[str] = ()) -> list[str]:
    """``count`` people taken in order from ``people`` rotated by ``offset``, skipping ``exclude``."""
    rotated = [*people[offset % len(people) :], *people[: offset % len(people)]]
    chosen = [person for person in rotated if person not in exclude][:count]
    if len(chosen) < count:
        raise ValueError(f"need {count} people besides {list(exclude)}, have {len(chosen)}")
    return chosen


@functools.cache
def background() -> np.ndarray:
    """Mid-grey canvas with a gentle gradient and fixed light noise (no people)."""
    rng = np.random.default_rng(7)
    level = np.linspace(104, 136, FRAME_W)[None, :] + np.linspace(-8, 8, FRAME_H)[:, None]
    level = level + rng.normal(0, 3, (FRAME_H, FRAME_W))
    return np.repeat(np.clip(level, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _cut(
    image: np.ndarray,
    scale: float,
    focus: tuple[float, float],
    size: tuple[int, int],
    focus_at: tuple[float, float] = (0.5, 0.4),
) -> Cutout:
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


def person_cutout(cast: Cast, photo: Photo, face_px: float, size: tuple[int, int]) -> Cutout:
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


def group_cutout(photo: Photo, face_px: float) -> Cutout:
    """A multi-person photo scaled so its smallest enrolled face has ``face_px`` (all faces kept in frame)."""
    adults = photo.faces[: len(photo.people)]  # the enrolled people have the largest faces
    x0, y0 = min(f[0] for f in photo.faces), min(f[1] for f in photo.faces)
    x1, y1 = max(f[0] + f[2] for f in photo.faces), max(f[1] + f[3] for f in photo.faces)
    scale = min(face_px / min(min(f[2:]) for f in adults), 0.9 * FRAME_W / (x1 - x0), 0.9 * FRAME_H / (y1 - y0))
    return _cut(photo.image, scale, ((x0 + x1) / 2, (y0 + y1) / 2), (FRAME_W, FRAME_H), (0.5, 0.5))


def fit_cutout(image: np.ndarray) -> Cutout:
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


def compose_frame(*placed: tuple[Cutout, tuple[int, int]]) -> np.ndarray:
    """The background with each cutout pasted at its position."""
    canvas = background().copy()
    for cut, at in placed:
        _paste(canvas, cut, at)
    return canvas


def side_by_side(cast: Cast, photos: Sequence[Photo], face_px: float) -> np.ndarray:
    """One person per photo, in equal slots across the frame."""
    slot = FRAME_W // len(photos)
    return compose_frame(
        *(
            (person_cutout(cast, p, face_px, (slot - 16, FRAME_H)), (slot * i + slot // 2, CENTRE[1]))
            for i, p in enumerate(photos)
        )
    )


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
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (FRAME_W, FRAME_H))
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
        self.hold(background(), seconds)

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
