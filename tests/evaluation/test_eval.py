"""The attendance evaluation suite end to end, as CI runs it: every built scenario through the
real path (IoT source -> edge detectors and tracker -> cloud service -> local Rekognition) must
mark every expected student present, once, nobody else, within the call budget.

Also checks that the evaluation itself can fail: a scenario expecting a student its video never
shows must be reported as missed, with a non-zero exit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.cli import main
from evaluation.scenario_folder import ScenarioError, load_scenario
from evaluation.scenarios import build_scenarios
from tests.conftest import ASSETS, require_asset
from tests.edge.conftest import PEOPLE_CLASSES, PEOPLE_MODEL, YUNET, models_dir, require_model_file

pytestmark = pytest.mark.slow

#: Rekognition calls per present student the scenarios must stay within (issue: 3, goal 2).
CALL_BUDGET = 3.0


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    for relative in ("faces/manifest.csv", "faces/enroll", "models/face_detection_yunet_2023mar.onnx",
                     "video/classroom.gif", "video/face-demographics-walking.gif"):
        require_asset(relative)
    return build_scenarios(ASSETS, tmp_path_factory.mktemp("scenarios"))


@pytest.fixture(autouse=True)
def edge_models(monkeypatch: pytest.MonkeyPatch) -> None:
    require_model_file(PEOPLE_MODEL)
    require_model_file(YUNET)
    monkeypatch.setenv("ROLLCALL_EDGE_MODELS_DIR", str(models_dir()))
    monkeypatch.setenv("ROLLCALL_EDGE_PERSON_MODEL", PEOPLE_MODEL)
    monkeypatch.setenv("ROLLCALL_EDGE_PERSON_CLASSES", ",".join(PEOPLE_CLASSES))


def test_every_scenario_marks_exactly_the_students_shown(scenarios: list[Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "attendance.json"
    code = main([*map(str, scenarios), "--json", str(out), "--markdown", str(tmp_path / "attendance.md")])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert code == 0, printed
    summary = data["summary"]
    assert summary["recall"] == 1.0 and summary["false_accepts"] == 0, summary
    assert summary["expected"] == sum(len(load_scenario(p).expected) for p in scenarios)
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert set(by_name) == {p.name for p in scenarios}
    for name, result in by_name.items():
        assert result["passed"] and not result["duplicate_records"], (name, result)
        assert sorted(result["present"]) == sorted(result["expected"]), name
        if result["expected"]:
            assert result["calls_per_present"] <= CALL_BUDGET, (name, result["calls_per_present"])
            assert all(v is not None for v in result["seconds_to_present"].values()), name
    strangers = by_name["strangers_only"]
    assert strangers["present"] == [] and strangers["rekognition_calls"] > 0  # faces were searched, none accepted
    assert "| one_after_another |" in (tmp_path / "attendance.md").read_text()


def test_a_student_never_shown_is_reported_missed(scenarios: list[Path], tmp_path: Path) -> None:
    source = next(p for p in scenarios if p.name == "brief")
    shown = load_scenario(source).expected
    absent = sorted(set(load_scenario(source).enroll) - shown)[0]
    broken = tmp_path / "brief_expects_an_absent_student"
    shutil.copytree(source, broken)
    (broken / "expected.txt").write_text("\n".join(sorted(shown | {absent})) + "\n")
    out = tmp_path / "attendance.json"
    assert main([str(broken), "--json", str(out)]) == 1
    [result] = json.loads(out.read_text())["scenarios"]
    assert result["missed"] == [absent] and not result["passed"]


def test_bad_scenario_folders_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "enroll" / "ada").mkdir(parents=True)
    with pytest.raises(ScenarioError, match="enroll"):
        load_scenario(tmp_path)
    (tmp_path / "enroll" / "ada" / "1.jpg").write_bytes(b"x")
    with pytest.raises(ScenarioError, match="expected.txt"):
        load_scenario(tmp_path)
    (tmp_path / "expected.txt").write_text("bob\n")
    with pytest.raises(ScenarioError, match="bob"):
        load_scenario(tmp_path)
    (tmp_path / "expected.txt").write_text("ada  # the only student\n")
    with pytest.raises(ScenarioError, match="video"):
        load_scenario(tmp_path)
    assert main([str(tmp_path), "--json", str(tmp_path / "out.json")]) == 2
    assert "video" in capsys.readouterr().err


def test_a_scenario_that_cannot_run_is_an_error_and_the_others_still_run(tmp_path: Path) -> None:
    photo = require_asset("faces/enroll/obama/1.jpg")
    unreadable = tmp_path / "unreadable_video"
    (unreadable / "enroll" / "obama").mkdir(parents=True)
    shutil.copy(photo, unreadable / "enroll" / "obama" / "1.jpg")
    (unreadable / "video.mp4").write_bytes(b"this is not a video")
    (unreadable / "expected.txt").write_text("obama\n")
    faceless = tmp_path / "faceless_enrolment"
    (faceless / "enroll" / "wall").mkdir(parents=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 200, np.uint8))
    assert ok
    (faceless / "enroll" / "wall" / "1.jpg").write_bytes(jpeg.tobytes())
    shutil.copy(require_asset("video/classroom.gif"), faceless / "video.gif")
    (faceless / "expected.txt").write_text("")
    out = tmp_path / "attendance.json"
    assert main([str(unreadable), str(faceless), "--json", str(out)]) == 2
    results = {r["name"]: r for r in json.loads(out.read_text())["scenarios"]}
    assert "could be read" in results["unreadable_video"]["error"] and results["unreadable_video"]["missed"] == ["obama"]
    assert "enrolment of wall" in results["faceless_enrolment"]["error"]
