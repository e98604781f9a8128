"""The analysis command on synthetic logs with known latencies and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.compute import HOP_PAIRS, STAGES, THROUGHPUT_HOPS, flatten_numbers, summarise
from common.protocol import HOPS
from analysis.loader import load_run

from .synthetic import DELAYS, make_run


@pytest.fixture()
def run(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    run_dir = tmp_path / "collected" / "run-42"
    return run_dir, make_run(run_dir)


def test_latency_per_hop_and_stage(run: tuple[Path, dict[str, int]]) -> None:
    run_dir, expected = run
    summary = summarise(load_run(run_dir))
    hop = summary.hops
    assert hop["captured -> sent"].n == expected["frames"] + expected["dropped"]
    assert hop["captured -> sent"].p50 == 5  # 20 frames at 5 ms, 3 drops at 3 ms
    assert hop["sent -> edge_received"].n == expected["crops"]
    assert hop["cloud_received -> recognised"].p99 == DELAYS["recognised"]
    stages = summary.stages
    assert stages["edge received -> detected"].p50 == DELAYS["detect_start"] + DELAYS["detect_end"]
    total = sum(DELAYS.values())
    e2e = stages["end to end (captured -> recorded)"]
    assert (e2e.n, e2e.p50, e2e.p95, e2e.max, e2e.negative) == (expected["crops"], total, total, total, 0)


def test_funnel_throughput_outcomes(run: tuple[Path, dict[str, int]]) -> None:
    run_dir, expected = run
    summary = summarise(load_run(run_dir))
    assert summary.funnel["captured"] == expected["frames"] + expected["dropped"]
    assert summary.funnel["sent"] == expected["frames"]  # dropped frames never left the camera
    assert summary.funnel["edge_received"] == expected["crops"]
    # crops are counted once although edge and cloud both log them
    assert summary.funnel["edge_sent"] == summary.funnel["recorded"] == expected["crops"]
    # 20 frames over 9.5 s at the IoT tier
    assert summary.throughput["sent"] == pytest.approx(expected["frames"] / 9.5, rel=0.05)
    assert summary.frames == {"sent": expected["frames"], "dropped_at_iot": expected["dropped"]}
    assert summary.outcomes == {"recognised": expected["recorded"], "unknown": expected["unknown"]}
    assert summary.attendance["records"] == expected["recorded"]
    assert summary.attendance["students"] == 3  # s0, s2, s4
    assert summary.attendance["unknown_faces"] == expected["unknown"]
    assert summary.attendance["streams_ended"] == 1
    assert summary.bad_lines == 1


def test_drops_use_last_snapshot_and_rekognition_calls(run: tuple[Path, dict[str, int]]) -> None:
    run_dir, expected = run
    summary = summarise(load_run(run_dir))
    assert summary.drops["iot"] == {"dropped": expected["dropped"]}
    assert summary.drops["edge"] == {"buffer_dropped_oldest": 4}
    assert summary.drops["cloud"] == {"ingest.rejected.bad_field": 2}
    rek = summary.rekognition
    assert rek["local_service_calls"] == {"SearchFacesByImage": expected["crops"] + 1, "IndexFaces": 1}
    assert rek["local_service_errors"] == {"InvalidParameterException": 1}
    assert rek["cloud_recognition_attempts"] == expected["recorded"] + 2 * expected["unknown"]
    assert rek["cloud_counters"] == {"rekognition_throttled": 1}
    assert summary.counters["edge"]["frames_received"] == expected["frames"]
    assert summary.counters["iot"]["sent"] == expected["frames"]


def test_cli_writes_markdown_json_and_pngs(run: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    run_dir, expected = run
    out = tmp_path / "out"
    assert main([str(run_dir), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    assert md.startswith("# Run run-42")
    assert "| end to end (captured -> recorded) | 15 | 429 | 429 | 429 | 429 | 429 |" in md
    assert "`buffer_dropped_oldest`" in md
    data = json.loads((out / "summary.json").read_text())
    assert data["funnel"]["recorded"] == expected["crops"]
    for name in ("latency.png", "throughput.png", "funnel.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({name})" in md


def test_default_output_under_res(run: tuple[Path, dict[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir, _ = run
    monkeypatch.chdir(tmp_path)
    assert main([str(run_dir), "--no-plots"]) == 0
    assert (tmp_path / "res" / "analysis" / "run-42" / "summary.md").is_file()
    assert not (tmp_path / "res" / "analysis" / "run-42" / "latency.png").exists()


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.jsonl").write_text("not json\n")
    assert main([str(tmp_path / "empty")]) == 1
    assert "no JSON log lines" in capsys.readouterr().err


def test_clock_skew_is_reported_not_hidden(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(
        {"ts_ms": 1, "tier": "cloud", "event": "attendance_recorded", "trace_id": "t", "msg_id": "m",
         "ts": {"captured": 1000, "sent": 1001, "edge_received": 990, "recorded": 1500}}) + "\n")
    summary = summarise(load_run(tmp_path))
    assert summary.hops["sent -> edge_received"].negative == 1
    assert summary.hops["sent -> edge_received"].p50 == -11


def test_flatten_numbers() -> None:
    assert flatten_numbers({"a": {"b": 1, "c": "x", "d": True}, "e": 2.5}) == {"a.b": 1.0, "e": 2.5}


def test_stage_and_throughput_names_are_protocol_hops() -> None:
    """A renamed hop in common.protocol.HOPS must break this test, not silently empty a table."""
    assert all(a in HOPS and b in HOPS and HOPS.index(a) < HOPS.index(b) for _, a, b in STAGES)
    assert set(THROUGHPUT_HOPS) <= set(HOPS)
    assert [a for _, a, _ in HOP_PAIRS] + [HOP_PAIRS[-1][2]] == list(HOPS)
