#!/usr/bin/env bash
# README's test command: set up everything the test suite needs on a fresh machine, then run pytest.
#
#   ./scripts/test.sh                 # whole suite
#   ./scripts/test.sh tests/iot -x    # extra arguments go to pytest
#
# 1. a virtual environment (.venv, or $ROLLCALL_VENV) with the pinned test dependencies (no torch);
# 2. Debian's chromium for the dashboard browser test (when running as root and it is missing);
# 3. models in ./models: YuNet copied and the people detector exported to ONNX from the local
#    mirror (../shared/assets/models, or $ROLLCALL_MODELS_MIRROR) by scripts/prepare_models.sh;
# 4. static checks (scripts/lint.sh: ruff and mypy on src/);
# 5. pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
VENV="${ROLLCALL_VENV:-$REPO/.venv}"
say() { printf '[test.sh] %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  python3 -m venv "$VENV"
fi
say "installing pinned test dependencies"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  -c dependencies/constraints.txt -r dependencies/test.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium for the browser test"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "WARNING: /usr/bin/chromium missing and not root: the browser test will skip (fail under CI)"
  fi
fi

export ROLLCALL_EDGE_MODELS_DIR="${ROLLCALL_EDGE_MODELS_DIR:-$REPO/models}"
say "preparing models in $ROLLCALL_EDGE_MODELS_DIR"
PYTHON="$VENV/bin/python" bash scripts/prepare_models.sh

say "static checks: scripts/lint.sh (ruff check, ruff format --check, mypy on src/)"
ROLLCALL_VENV="$VENV" bash scripts/lint.sh

say "running pytest"
exec "$VENV/bin/python" -m pytest "$@"
