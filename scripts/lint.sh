#!/usr/bin/env bash
# Static checks, run by scripts/test.sh (README's test command) before pytest:
#   ruff check (rules in pyproject.toml), ruff format --check and mypy, all on src/;
#   a detect-secrets scan of the git-tracked files against the audited .secrets.baseline
#   (scripts/secrets_scan.py; fails on any finding not audited as a false positive).
# Uses the test venv (.venv, or $ROLLCALL_VENV), where dependencies/lint.txt pins ruff, mypy and detect-secrets.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ROLLCALL_VENV:-$PWD/.venv}"
say() { printf '[lint.sh] %s\n' "$*" >&2; }
say "ruff check src"
"$VENV/bin/ruff" check src
say "ruff format --check src"
"$VENV/bin/ruff" format --check src
say "mypy src"
"$VENV/bin/mypy" src
say "secrets scan (detect-secrets, baseline .secrets.baseline)"
"$VENV/bin/python" scripts/secrets_scan.py --baseline .secrets.baseline
say "clean"
