#!/usr/bin/env python3
"""Secrets scan with detect-secrets (issue 13 item 8), run by scripts/lint.sh and scripts/compose_ci.sh.

    secrets_scan.py [--baseline .secrets.baseline]            # the repository's git-tracked files
    secrets_scan.py --dir PATH [--baseline .secrets.baseline]  # every file under PATH (an image's /app)

A finding fails (exit 1, one line per finding, no secret value printed) unless the baseline holds
the same secret (type + hash) audited as a false positive (``"is_secret": false``). Line numbers
and, for ``--dir``, file names are not compared, so moving a known false positive is no failure
and the image scan reuses the repository's audited baseline. Refresh the baseline after an audit:

    .venv/bin/detect-secrets scan --baseline .secrets.baseline && .venv/bin/detect-secrets audit .secrets.baseline
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def scan(paths: list[str], all_files: bool, cwd: Path) -> dict[str, list[dict]]:
    """detect-secrets' findings: {file: [finding, ...]}."""
    exe = Path(sys.executable).with_name("detect-secrets")
    cmd = [str(exe) if exe.exists() else "detect-secrets", "scan", *(["--all-files"] if all_files else []), *paths]
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True, timeout=600).stdout
    return json.loads(out)["results"]


def allowed(baseline: Path) -> set[tuple[str, str]]:
    """(type, hashed_secret) of every finding the baseline audited as not a secret."""
    if not baseline.exists():
        return set()
    results = json.loads(baseline.read_text())["results"]
    return {(f["type"], f["hashed_secret"]) for found in results.values() for f in found if f.get("is_secret") is False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=".secrets.baseline", type=Path)
    parser.add_argument("--dir", help="scan every file under this directory instead of the git-tracked files")
    args = parser.parse_args(argv)
    if args.dir:
        results = scan(["."], all_files=True, cwd=Path(args.dir))
    else:
        # the baseline's own hashes are not secrets
        results = scan(["--exclude-files", r"^\.secrets\.baseline$"], all_files=False, cwd=Path(os.getcwd()))
    ok = allowed(args.baseline)
    new = [
        (name, f) for name, found in sorted(results.items()) for f in found if (f["type"], f["hashed_secret"]) not in ok
    ]
    for name, f in new:
        print(
            f"[secrets_scan] {f['type']} in {name}:{f['line_number']} (not in {args.baseline} as audited)",
            file=sys.stderr,
        )
    where = args.dir or "the repository"
    print(
        f"[secrets_scan] {where}: {sum(map(len, results.values()))} findings, {len(new)} not audited", file=sys.stderr
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
