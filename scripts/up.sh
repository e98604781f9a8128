#!/usr/bin/env bash
# README's run command: prepare the models, build the images and start the whole simulation.
#
#   ./scripts/up.sh              # foreground; Ctrl-C stops it
#   ./scripts/up.sh -d           # detached; then: docker compose logs -f / docker compose down
#
# Models come from a local mirror (default ../shared/assets/models) through
# scripts/prepare_models.sh into ${ROLLCALL_MODELS_DIR:-./models}; without a mirror it downloads
# the official yolov8n + YuNet, and the edge is then started with yolov8n.onnx / class `person`
# (unless ROLLCALL_EDGE_PERSON_MODEL is set in the shell or .env). Demo faces and video come from
# ROLLCALL_ASSETS_DIR (default ../shared/assets). The ZeroMQ links run CurveZMQ: scripts/demo_keys.sh
# creates the keys (git-ignored ./keys, kept across runs). Extra arguments go to `docker compose up`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[up.sh] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
# setting NAME DEFAULT -> what compose will use: the shell's value, else .env's, else DEFAULT
setting() {
  local value="${!1:-}"
  [ -n "$value" ] || value="$(sed -n "s/^$1=//p" .env 2>/dev/null | tail -n1)"
  printf '%s' "${value:-$2}"
}

assets="$(setting ROLLCALL_ASSETS_DIR ../shared/assets)"
video="$(setting ROLLCALL_DEMO_VIDEO classroom.gif)"
[ -d "$assets/faces/enroll" ] && [ -f "$assets/faces/manifest.csv" ] \
  || die "no demo faces in $assets (faces/enroll/<student>/<n>.jpg, faces/manifest.csv); set ROLLCALL_ASSETS_DIR"
[ -f "$assets/video/$video" ] || die "no $assets/video/$video for the classroom camera; set ROLLCALL_DEMO_VIDEO"

if ! docker info >/dev/null 2>&1; then
  if [ -x ../shared/ci/docker-engine.sh ]; then
    say "no Docker engine answering: starting one with ../shared/ci/docker-engine.sh"
    ../shared/ci/docker-engine.sh
  else
    die "Docker is not running (start the Docker engine, then run this again)"
  fi
fi
./scripts/local_secret.sh  # the local Rekognition service's key pair secret, in .env
./scripts/demo_keys.sh     # CurveZMQ keys of the cloud, the edge and every demo camera, in ./keys
models="$(setting ROLLCALL_MODELS_DIR ./models)"
ROLLCALL_EDGE_MODELS_DIR="$models" ./scripts/prepare_models.sh
# Without the mirror's people detector, fall back to the official COCO model prepare_models fetched.
if [ -z "$(setting ROLLCALL_EDGE_PERSON_MODEL '')" ] && [ ! -f "$models/yolov8s-people-fall.onnx" ] \
   && [ -f "$models/yolov8n.onnx" ]; then
  say "no yolov8s-people-fall.onnx: the edge uses yolov8n.onnx (COCO class person)"
  export ROLLCALL_EDGE_PERSON_MODEL=yolov8n.onnx ROLLCALL_EDGE_PERSON_CLASSES=person
fi
say "dashboard: http://localhost:$(setting ROLLCALL_HTTP_PUBLISH 8080)/ (once the cloud is healthy)"
exec docker compose up --build "$@"
