"""``python -m analysis RUN_DIR [--out DIR]``: report on one run's collected logs.

RUN_DIR is a folder of JSON-lines logs, e.g. ``res/collected_logs/<run-id>/`` made by
collect_logs.sh (files under any sub-folder are read). Writes ``summary.md``,
``summary.json`` and PNG plots to ``--out`` (default ``res/analysis/<run-id>/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .compute import summarise
from .loader import load_run
from .plots import write_plots
from .report import write_reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="folder with the run's *.jsonl logs")
    parser.add_argument("--out", type=Path, help="output folder (default res/analysis/<run-id>)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    try:
        logs = load_run(args.run_dir)
    except FileNotFoundError as exc:
        print(f"analysis: {exc}", file=sys.stderr)
        return 2
    if not logs.events:
        print(f"analysis: no JSON log lines under {args.run_dir}", file=sys.stderr)
        return 1
    run_name = args.run_dir.resolve().name
    out_dir = args.out or Path("res") / "analysis" / run_name
    summary = summarise(logs)
    plots = [] if args.no_plots else write_plots(summary, out_dir)
    md, js = write_reports(summary, run_name, out_dir, plots)
    end_to_end = summary.stages["end to end (captured -> recorded)"]
    print(
        f"analysis: {summary.events} events from {summary.files} files; "
        f"end-to-end p50 {end_to_end.p50:.0f} ms / p95 {end_to_end.p95:.0f} ms (n={end_to_end.n}); "
        f"wrote {md}, {js}" + "".join(f", {p}" for p in plots)
    )
    return 0
