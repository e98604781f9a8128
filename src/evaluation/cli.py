"""``rollcall-eval SCENARIO_DIR...``: does every student the camera shows get marked present,
once, and nobody else? Prints a table, writes JSON (and optionally Markdown), exits 1 if any
scenario misses a student or accepts a wrong one, 2 if a scenario or the setup cannot run (an
unreadable folder, video or enrolment photo; the other scenarios still run and are reported).

Recognition runs on the local Rekognition service, started in-process on loopback (or any
Rekognition endpoint given with ``--rekognition-url``). The edge uses the ``ROLLCALL_EDGE_*``
settings (models, person classes, tracking, crop policy), the IoT camera the
``ROLLCALL_IOT_*`` ones (motion gate, JPEG), except fps and source.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.settings_base import ConfigError
from edge.detector_factory import build_person_detector
from edge.settings import EdgeSettings

from .results import ScenarioResult
from .runner import DOLLARS_PER_CALL, Evaluation
from .scenario_folder import ScenarioError, load_scenario

COLUMNS = (
    "scenario",
    "expected",
    "present",
    "missed",
    "false acc.",
    "calls",
    "calls/present",
    "s to present (max)",
    "crops",
    "result",
)


def _row(result: ScenarioResult) -> tuple[str, ...]:
    delays = [v for v in result.seconds_to_present.values() if v is not None]
    if result.error:
        return (result.name, str(len(result.expected)), "-", "-", "-", "-", "-", "-", "-", f"ERROR: {result.error}")
    return (
        result.name,
        str(len(result.expected)),
        str(len(set(result.present) & set(result.expected))),
        ", ".join(result.missed) or "0",
        ", ".join(result.false_accepts) or "0",
        str(result.rekognition_calls),
        "-" if result.calls_per_present is None else f"{result.calls_per_present:.2f}",
        f"{max(delays):.1f}" if delays else "-",
        str(result.crops_sent),
        "PASS" if result.passed else "FAIL",
    )


def format_table(results: list[ScenarioResult], markdown: bool = False) -> str:
    """The per-scenario table (plain text, or a Markdown table)."""
    rows = [COLUMNS] + [_row(r) for r in results]
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    """Totals over every scenario: recall, false accepts, calls per present student."""
    expected = sum(len(r.expected) for r in results)
    present = sum(len(set(r.present) & set(r.expected)) for r in results)
    calls = sum(r.rekognition_calls for r in results)
    bytes_up = sum(r.bytes_iot_to_edge for r in results)
    return {
        "scenarios": len(results),
        "passed": sum(r.passed for r in results),
        "expected": expected,
        "present": present,
        "recall": round(present / expected, 4) if expected else None,
        "false_accepts": sum(len(r.false_accepts) for r in results),
        "rekognition_calls": calls,
        "calls_per_present": round(calls / present, 2) if present else None,
        "dollars_per_present_student": round(calls * DOLLARS_PER_CALL / present, 5) if present else None,
        "edge_to_cloud_share_of_iot_bytes": round(sum(r.bytes_edge_to_cloud for r in results) / bytes_up, 4)
        if bytes_up
        else None,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall-eval", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO_DIR")
    parser.add_argument("--fps", type=float, default=2.0, help="camera frame rate cap (default 2)")
    parser.add_argument("--threshold", type=float, default=80.0, help="Rekognition match threshold (default 80, AWS's)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("res/evaluation/attendance.json"),
        help="where to write the JSON results (default res/evaluation/attendance.json)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument(
        "--rekognition-url", default="", help="use this Rekognition endpoint instead of starting the local service"
    )
    parser.add_argument(
        "--models-dir", type=Path, help="models directory (default ROLLCALL_EDGE_MODELS_DIR or ./models)"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the scenario databases go (default: a temporary directory)"
    )
    parser.add_argument("--verbose", action="store_true", help="log the pipeline's JSON events to stderr")
    return parser


def _start_rekognition(models_dir: Path, data_dir: Path) -> Any:
    """An in-process local Rekognition service on loopback that accepts one key pair made for this
    run; the pair is put in the environment, where boto3 (the cloud's client) signs with it."""
    from rekognition_local.app import RunningServer, build
    from rekognition_local.settings import RekognitionSettings

    key_id, secret = "rollcall-eval", secrets.token_hex(16)
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = key_id, secret
    os.environ.pop("AWS_SESSION_TOKEN", None)
    settings = RekognitionSettings(
        models_dir=models_dir, models_mirror="", data_dir=data_dir, access_keys=(f"{key_id}:{secret}",)
    )
    return RunningServer(build(settings), "127.0.0.1", 0, threads=4).start()


def run(args: argparse.Namespace, work_dir: Path) -> list[ScenarioResult]:
    """Evaluate every scenario of ``args`` (ScenarioError / ConfigError for setup problems)."""
    scenarios = [load_scenario(path) for path in args.scenarios]
    overrides: dict[str, Any] = {"models_dir": args.models_dir} if args.models_dir else {}
    edge = EdgeSettings(**overrides)
    detector = build_person_detector(edge)
    # --rekognition-url: signed with the AWS_* credentials of the environment (the pair that
    # service's ROLLCALL_REKOG_ACCESS_KEYS lists); otherwise with the pair made for our own service.
    server = None
    url = args.rekognition_url
    if not url:
        server = _start_rekognition(edge.models_dir, work_dir / "rekognition")
        url = server.url
    else:  # boto3 needs something to sign with (enough for a service run with ALLOW_ANONYMOUS)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "rollcall-eval")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "rollcall-eval")
    try:
        evaluation = Evaluation(url, edge, detector, work_dir, fps=args.fps, threshold=args.threshold)
        results = []
        for scenario in scenarios:
            result = evaluation.run(scenario)
            print(
                f"[rollcall-eval] {scenario.name}: {'PASS' if result.passed else 'FAIL'} "
                f"({len(set(result.present) & scenario.expected)}/{len(scenario.expected)} present, "
                f"{len(result.false_accepts)} false accepts, {result.rekognition_calls} calls, {result.wall_s} s)",
                file=sys.stderr,
                flush=True,
            )
            results.append(result)
        return results
    finally:
        if server is not None:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rollcall-eval``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr, format="%(message)s")
    try:
        if args.work_dir:
            args.work_dir.mkdir(parents=True, exist_ok=True)
            results = run(args, args.work_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="rollcall-eval-") as tmp:
                results = run(args, Path(tmp))
    except (ScenarioError, ConfigError, FileNotFoundError) as exc:
        print(f"rollcall-eval: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    totals = summary(results)
    print(json.dumps(totals))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "fps": args.fps,
                "threshold": args.threshold,
                "summary": totals,
                "scenarios": [r.to_json() for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(format_table(results, markdown=True) + "\n")
    if any(r.error for r in results):
        return 2
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
