#!/usr/bin/env bash
# Prepare the edge's models from a local mirror, offline, idempotently:
#   1. .venv-export: torch (CPU, local wheel) + ultralytics + onnx/onnxslim, pinned in
#      dependencies/export.txt (kept out of the main venv and of the runtime images);
#   2. YuNet copied from the mirror (sha256-checked);
#   3. yolov8s-people-fall.pt copied and exported to ONNX (static 640x640) with ultralytics'
#      own exporter, skipped when models/<name>.onnx already matches the .pt (sidecar .source.sha256).
#
# Env: ROLLCALL_MODELS_MIRROR (default ../shared/assets/models), ROLLCALL_EDGE_MODELS_DIR
# (default ./models), ROLLCALL_EXPORT_VENV (default ./.venv-export), PYTHON (default python3).
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
MIRROR="${ROLLCALL_MODELS_MIRROR:-$REPO/../shared/assets/models}"
MODELS_DIR="${ROLLCALL_EDGE_MODELS_DIR:-$REPO/models}"
EXPORT_VENV="${ROLLCALL_EXPORT_VENV:-$REPO/.venv-export}"
PYTHON="${PYTHON:-python3}"
DETECTOR="yolov8s-people-fall"
IMGSZ=640
start=$(date +%s)
say() { printf '[prepare_models] %s\n' "$*" >&2; }

if [ ! -d "$MIRROR" ]; then
  say "ERROR: mirror directory $MIRROR not found (set ROLLCALL_MODELS_MIRROR)"
  exit 1
fi
mkdir -p "$MODELS_DIR"

# The export venv is only needed when the ONNX is missing or stale; models_cli decides.
PYTHONPATH="$REPO/src" "$PYTHON" -m edge.models_cli fetch --models-dir "$MODELS_DIR" --mirror "$MIRROR" \
  face_detection_yunet_2023mar.onnx "$DETECTOR.pt"

needs_export=1
if [ -f "$MODELS_DIR/$DETECTOR.onnx" ] && [ -f "$MODELS_DIR/$DETECTOR.onnx.source.sha256" ]; then
  want="$(sha256sum "$MODELS_DIR/$DETECTOR.pt" | cut -d' ' -f1)"
  if [ "$(head -n1 "$MODELS_DIR/$DETECTOR.onnx.source.sha256")" = "$want" ] \
     && grep -qx "imgsz=$IMGSZ" "$MODELS_DIR/$DETECTOR.onnx.source.sha256"; then
    needs_export=0
  fi
fi

if [ "$needs_export" = 1 ]; then
  if [ ! -x "$EXPORT_VENV/bin/python" ]; then
    say "creating export venv $EXPORT_VENV"
    "$PYTHON" -m venv "$EXPORT_VENV"
  fi
  say "installing export dependencies (torch CPU, ultralytics, onnx) into $EXPORT_VENV"
  "$EXPORT_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c dependencies/constraints.txt -r dependencies/export.txt
  # Offline, no auto-install, a private writable settings dir.
  export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false
  export YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$EXPORT_VENV/ultralytics-config}"
  mkdir -p "$YOLO_CONFIG_DIR"
  PYTHONPATH="$REPO/src" "$EXPORT_VENV/bin/python" -m edge.models_cli export "$MODELS_DIR/$DETECTOR.pt" \
    --out-dir "$MODELS_DIR" --imgsz "$IMGSZ" 1>&2
else
  say "$DETECTOR.onnx is up to date (exported from this $DETECTOR.pt at $IMGSZ), skipping export"
fi
say "models ready in $MODELS_DIR ($(( $(date +%s) - start )) s)"
