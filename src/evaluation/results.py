"""What an evaluation run reports: every crop with its answer, and the verdict per scenario."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .scenario_folder import Scenario


@dataclass
class CropRecord:
    """One face crop the edge sent, and what the cloud answered."""

    track_id: int
    track_first_ms: int
    camera_ms: int
    status: str
    reason: str | None
    student_id: str | None
    similarity: float | None
    runner_up: float | None
    candidate_id: str | None
    face_px: int | None


@dataclass
class ScenarioResult:
    """The verdict on one scenario."""

    name: str
    expected: list[str]
    present: list[str]
    missed: list[str]
    false_accepts: list[str]
    duplicate_records: list[str]
    rekognition_calls: int
    calls_per_present: float | None
    seconds_to_present: dict[str, float | None]
    video_s: float
    frames_sent: int
    frames_skipped: int
    crops_sent: int
    evidence_crops: int
    bytes_iot_to_edge: int
    bytes_edge_to_cloud: int
    wall_s: float
    crops: list[CropRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Every expected student present, nobody else, nobody twice, no error."""
        return self.error is None and not self.missed and not self.false_accepts and not self.duplicate_records

    def to_json(self, with_crops: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        if not with_crops:
            data.pop("crops")
        return data


def failed_result(scenario: Scenario, error: str, wall_s: float) -> ScenarioResult:
    """The result of a scenario that could not be run (every expected student counts as missed)."""
    expected = sorted(scenario.expected)
    return ScenarioResult(
        name=scenario.name,
        expected=expected,
        present=[],
        missed=expected,
        false_accepts=[],
        duplicate_records=[],
        rekognition_calls=0,
        calls_per_present=None,
        seconds_to_present=dict.fromkeys(expected),
        video_s=0.0,
        frames_sent=0,
        frames_skipped=0,
        crops_sent=0,
        evidence_crops=0,
        bytes_iot_to_edge=0,
        bytes_edge_to_cloud=0,
        wall_s=round(wall_s, 1),
        error=error,
    )
