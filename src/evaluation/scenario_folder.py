"""Scenario folders of the attendance evaluation: what one holds, read and checked.

A scenario folder holds ``enroll/<student_id>/*.jpg|png``, one video (``video.*``: mp4, gif, ...
or an image folder ``frames/``), ``expected.txt`` (student ids that must be marked present; every
other enrolled student must not be) and optionally ``scenario.json`` (``appearances``: per
student, the video intervals in seconds when they are visible).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
VIDEO_SUFFIXES = {".mp4", ".gif", ".avi", ".mov", ".mkv", ".webm"}


class ScenarioError(ValueError):
    """A scenario folder that cannot be evaluated (missing or inconsistent files)."""


@dataclass(frozen=True)
class Scenario:
    """One scenario folder, read."""

    name: str
    path: Path
    enroll: dict[str, list[Path]]
    video: Path
    expected: frozenset[str]
    appearances: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def _find_video(path: Path) -> Path:
    candidates = [
        p for p in sorted(path.iterdir()) if p.is_file() and p.stem == "video" and p.suffix.lower() in VIDEO_SUFFIXES
    ]
    frames = path / "frames"
    if frames.is_dir():
        candidates.append(frames)
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise ScenarioError(f"{path}: expected exactly one video (video.mp4/.gif/... or frames/), found {found}")
    return candidates[0]


def load_scenario(path: Path) -> Scenario:
    """Read a scenario folder (raises ScenarioError naming what is wrong)."""
    path = Path(path)
    if not path.is_dir():
        raise ScenarioError(f"{path}: not a directory")
    enroll_dir = path / "enroll"
    if not enroll_dir.is_dir():
        raise ScenarioError(f"{path}: no enroll/ folder")
    enroll = {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(enroll_dir.iterdir())
        if d.is_dir()
    }
    empty = [sid for sid, photos in enroll.items() if not photos]
    if not enroll or empty:
        raise ScenarioError(
            f"{path}: enroll/ needs one folder of photos per student (empty: {', '.join(empty) or 'all'})"
        )
    expected_file = path / "expected.txt"
    if not expected_file.is_file():
        raise ScenarioError(f"{path}: no expected.txt")
    expected = frozenset(
        line.split("#", 1)[0].strip() for line in expected_file.read_text(encoding="utf-8").splitlines()
    ) - {""}
    unknown = sorted(expected - set(enroll))
    if unknown:
        raise ScenarioError(f"{path}: expected.txt names students with no enrolment photos: {', '.join(unknown)}")
    appearances: dict[str, list[tuple[float, float]]] = {}
    meta_file = path / "scenario.json"
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            appearances = {
                sid: [(float(a), float(b)) for a, b in spans] for sid, spans in meta.get("appearances", {}).items()
            }
        except (ValueError, TypeError, AttributeError) as exc:
            raise ScenarioError(f"{meta_file}: unreadable ({exc})") from None
    return Scenario(path.name, path, enroll, _find_video(path), expected, appearances)
