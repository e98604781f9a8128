"""Scenario folders of the attendance evaluation, built once from the shared assets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.cast import YUNET_MODEL, FaceFinder, _near_duplicate, _thumbnail
from evaluation.composition import FPS, FRAME_H, FRAME_W
from evaluation.scenarios import SCENARIO_NAMES, build_scenarios, main
from tests.conftest import ASSETS, require_asset

NEEDED = ("faces/manifest.csv", "faces/enroll", YUNET_MODEL, "video/classroom.gif",
          "video/face-demographics-walking.gif")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    for relative in NEEDED:
        require_asset(relative)
    folders = build_scenarios(ASSETS, tmp_path_factory.mktemp("scenarios"))
    return {folder.name: folder for folder in folders}


@pytest.fixture(scope="module")
def finder() -> FaceFinder:
    return FaceFinder(require_asset(YUNET_MODEL))


def _meta(folder: Path) -> dict:
    return json.loads((folder / "scenario.json").read_text(encoding="utf-8"))


def _expected(folder: Path) -> set[str]:
    lines = (folder / "expected.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _enrolled(folder: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted((folder / "enroll").iterdir())}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frames(folder: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(folder / "video.mp4"))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def _frame_at(folder: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(folder / "video.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"{folder.name}: no frame {index}"
    return frame


def test_every_scenario_has_the_folder_layout(built: dict[str, Path]) -> None:
    assert tuple(built) == SCENARIO_NAMES
    for name, folder in built.items():
        assert {p.name for p in folder.iterdir()} >= {"enroll", "video.mp4", "expected.txt", "scenario.json"}
        meta = _meta(folder)
        assert meta["name"] == name and meta["fps_video"] == FPS and meta["description"]
        assert isinstance(meta["strangers"], int)


def test_everyone_is_enrolled_from_the_asset_photos(built: dict[str, Path]) -> None:
    people = sorted(d.name for d in (ASSETS / "faces" / "enroll").iterdir() if d.is_dir())
    assert len(people) == 8
    for folder in built.values():
        enrolled = _enrolled(folder)
        assert sorted(enrolled) == people
        for person, photos in enrolled.items():
            assert photos, f"{folder.name}: {person} has no enrolment photo"
            for photo in photos:
                assert _sha(photo) == _sha(ASSETS / "faces" / "enroll" / person / photo.name)


def test_expected_students_are_enrolled_and_appear(built: dict[str, Path]) -> None:
    for folder in built.values():
        expected, meta = _expected(folder), _meta(folder)
        assert expected <= set(_enrolled(folder)), folder.name
        assert expected == set(meta["appearances"]), folder.name
    assert _expected(built["one_after_another"]) == set(_enrolled(built["one_after_another"]))
    assert len(_expected(built["small_faces"])) == 3
    assert len(_expected(built["brief"])) == 4
    assert _expected(built["strangers_only"]) == set() and _meta(built["strangers_only"])["strangers"] == 3


def test_group_scenarios_expect_the_manifest_ids(built: dict[str, Path]) -> None:
    manifest = (ASSETS / "faces" / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]
    groups = {f"faces/{name}": set(ids.split(";")) for name, ids in (row.split(",") for row in manifest) if ";" in ids}
    for name in ("two_in_frame", "three_in_frame"):
        folder = built[name]
        shown = [groups[s] for s in _meta(folder)["sources"] if s in groups]
        assert shown, f"{name} shows no group photo"
        assert set().union(*shown) < _expected(folder)  # plus the people of the side-by-side composite
    two, three = (set(_meta(built[n])["sources"]) & set(groups) for n in ("two_in_frame", "three_in_frame"))
    assert two and three and not two & three


def test_leave_and_return_shows_a_twice_then_b(built: dict[str, Path]) -> None:
    appearances = _meta(built["leave_and_return"])["appearances"]
    assert sorted(len(runs) for runs in appearances.values()) == [1, 2]
    (first,) = [runs for runs in appearances.values() if len(runs) == 2]
    (second,) = [runs for runs in appearances.values() if len(runs) == 1]
    assert first[1][0] - first[0][1] >= 3.0 and second[0][0] >= first[1][1]


def test_brief_shows_each_person_for_one_second(built: dict[str, Path]) -> None:
    for runs in _meta(built["brief"])["appearances"].values():
        assert [end - start for start, end in runs] == [pytest.approx(1.0)]


def test_no_shown_photo_is_an_enrolment_photo(built: dict[str, Path]) -> None:
    for folder in built.values():
        enrolled = [photo for photos in _enrolled(folder).values() for photo in photos]
        shown = [ASSETS / s for s in _meta(folder)["sources"] if not s.startswith("video/")]
        assert not {_sha(p) for p in enrolled} & {_sha(p) for p in shown}, folder.name
        thumbnails = [_thumbnail(p) for p in enrolled]
        assert not [p.name for p in shown if _near_duplicate(p, thumbnails)], folder.name
        assert not [p.name for p in shown if "partial" in p.name], folder.name


def test_videos_read_back_with_their_duration(built: dict[str, Path]) -> None:
    durations = {"one_after_another": 16.0, "small_faces": 4.0, "brief": 8.0, "leave_and_return": 12.0,
                 "strangers_only": 13.0}
    for name, folder in built.items():
        frames = _frames(folder)
        assert frames and all(f.shape == (FRAME_H, FRAME_W, 3) for f in frames), name
        if name in durations:
            assert len(frames) == round(durations[name] * FPS), name
        for runs in _meta(folder)["appearances"].values():
            for start, end in runs:
                assert 0 <= start < end <= len(frames) / FPS, name


def test_small_faces_measure_40_to_64_px(built: dict[str, Path], finder: FaceFinder) -> None:
    for index in (0, 17, 39):
        sizes = sorted(min(box[2:]) for box in finder.boxes(_frame_at(built["small_faces"], index)))
        assert len(sizes) == 3 and all(40 <= size <= 64 for size in sizes), sizes


def test_faces_of_visible_students_are_at_least_80_px(built: dict[str, Path], finder: FaceFinder) -> None:
    for name in ("one_after_another", "two_in_frame", "three_in_frame", "leave_and_return", "brief"):
        appearances = _meta(built[name])["appearances"]
        for start, end in (run for runs in appearances.values() for run in runs):
            middle = (start + end) / 2
            visible = sum(s <= middle < e for runs in appearances.values() for s, e in runs)
            sizes = [min(box[2:]) for box in finder.boxes(_frame_at(built[name], int(middle * FPS)))]
            assert sum(size >= 80 for size in sizes) >= visible, (name, middle, sizes)


def test_missing_assets_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        build_scenarios(tmp_path / "nowhere", tmp_path / "out")
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "faces").symlink_to(require_asset("faces"), target_is_directory=True)
    with pytest.raises(FileNotFoundError, match="face_detection_yunet"):
        build_scenarios(assets, tmp_path / "out")


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no_such"):
        build_scenarios(tmp_path, tmp_path / "out", ["no_such"])


def test_cli_builds_the_named_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for relative in NEEDED:
        require_asset(relative)
    assert main([str(tmp_path), "--assets", str(ASSETS), "--only", "brief"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("brief:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brief"]
