#!/usr/bin/env bash
# README's run command: prepare the models, build the images and start the whole simulation.
#
#   ./scripts/up.sh              # foreground; Ctrl-C stops it
#   ./scripts/up.sh -d           # detached; then: docker compose logs -f / docker compose down
#
# Models come from a local mirror (default ../shared/assets/models) through
# scripts/prepare_models.sh; demo faces and video from ROLLCALL_ASSETS_DIR (default
# ../shared/assets). Extra arguments go to `docker compose up`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[up.sh] %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  if [ -x ../shared/ci/docker-engine.sh ]; then
    say "no Docker engine answering: starting one with ../shared/ci/docker-engine.sh"
    ../shared/ci/docker-engine.sh
  else
    say "ERROR: Docker is not running (start the Docker engine, then run this again)"
    exit 1
  fi
fi
./scripts/prepare_models.sh
say "dashboard: http://localhost:${ROLLCALL_HTTP_PUBLISH:-8080}/ (once the cloud is healthy)"
exec docker compose up --build "$@"
