#!/usr/bin/env bash
# Static checks, run by scripts/test.sh (README's test command) before pytest:
#   ruff check (rules in pyproject.toml), ruff format --check and mypy, all on src/.
# Uses the test venv (.venv, or $ROLLCALL_VENV), where dependencies/lint.txt pins ruff and mypy.
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
say "clean"
