#!/usr/bin/env bash
# Prepare the edge's models from a local mirror, offline, idempotently:
#   1. YuNet and the detector .pt files copied from the mirror (sha256-checked where known);
#   2. only when an ONNX is missing or stale: .venv-export with torch (CPU, local wheel) +
#      ultralytics + onnx/onnxslim, pinned in dependencies/export.txt (never in the main venv
#      or the runtime images), then each detector exported to ONNX with ultralytics' own
#      exporter: dynamic height/width by default (the edge letterboxes each frame to its smallest
#      stride-32 rectangle, 640x384 for 16:9), or a static square with ROLLCALL_EXPORT_DYNAMIC=0.
#      An ONNX is current when its sidecar <name>.onnx.source.sha256 holds exactly the lines
#      edge.models.sidecar_lines writes: the sha256 of the .pt, imgsz=N, dynamic=true|false.
#      Any change of weights or export parameters (or an older sidecar) re-exports.
#
# Env: ROLLCALL_MODELS_MIRROR (default ../shared/assets/models; empty, or the default missing =
# download the official files: yolov8n + YuNet), ROLLCALL_EDGE_MODELS_DIR
# (default ./models), ROLLCALL_PREPARE_DETECTORS (default yolov8s-people-fall; e.g.
# "yolov8n yolov8s-people-fall" when the mirror has yolov8n.pt), ROLLCALL_EXPORT_VENV
# (default ./.venv-export), ROLLCALL_EXPORT_IMGSZ (default 640), ROLLCALL_EXPORT_DYNAMIC (1 = dynamic
# input, the default; 0 = static square), ROLLCALL_EXPORT_INT8 (1 = also write NAME-int8.onnx, ONNX
# Runtime static INT8 quantization, ~2x less CPU, slightly different boxes; default 0),
# ROLLCALL_CALIBRATION (space-separated videos/images for the INT8 calibration; default the
# classroom.gif and one-by-one-person-detection.mp4 beside the mirror), PYTHON (default python3).
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
MIRROR="${ROLLCALL_MODELS_MIRROR-$REPO/../shared/assets/models}"
MODELS_DIR="${ROLLCALL_EDGE_MODELS_DIR:-$REPO/models}"
EXPORT_VENV="${ROLLCALL_EXPORT_VENV:-$REPO/.venv-export}"
PYTHON="${PYTHON:-python3}"
IMGSZ="${ROLLCALL_EXPORT_IMGSZ:-640}"
case "${ROLLCALL_EXPORT_DYNAMIC:-1}" in
  1|true|yes) DYNAMIC=true; EXPORT_FLAGS=() ;;
  0|false|no) DYNAMIC=false; EXPORT_FLAGS=(--static) ;;
  *) printf '[prepare_models] ERROR: ROLLCALL_EXPORT_DYNAMIC must be 1 or 0\n' >&2; exit 1 ;;
esac
start=$(date +%s)
say() { printf '[prepare_models] %s\n' "$*" >&2; }

if [ -n "$MIRROR" ] && [ -d "$MIRROR" ]; then
  FETCH_FROM=(--mirror "$MIRROR")
  DETECTORS="${ROLLCALL_PREPARE_DETECTORS:-yolov8s-people-fall}"
else
  # No local mirror: download the official files (sha256-checked). The default detector is then
  # the official COCO yolov8n (set ROLLCALL_EDGE_PERSON_MODEL=yolov8n.onnx and
  # ROLLCALL_EDGE_PERSON_CLASSES=person for the edge).
  if [ -n "$MIRROR" ] && [ -n "${ROLLCALL_MODELS_MIRROR:-}" ]; then
    say "ERROR: mirror directory $MIRROR not found (unset ROLLCALL_MODELS_MIRROR to download instead)"
    exit 1
  fi
  say "no local mirror: downloading the official model files"
  FETCH_FROM=()
  DETECTORS="${ROLLCALL_PREPARE_DETECTORS:-yolov8n}"
fi
mkdir -p "$MODELS_DIR"

pts=()
for d in $DETECTORS; do pts+=("$d.pt"); done
PYTHONPATH="$REPO/src" "$PYTHON" -m edge.models_cli fetch --models-dir "$MODELS_DIR" "${FETCH_FROM[@]}" \
  face_detection_yunet_2023mar.onnx "${pts[@]}"

is_current() {  # $1 = detector name; same lines as edge.models.sidecar_lines
  local sidecar="$MODELS_DIR/$1.onnx.source.sha256" expected
  [ -f "$MODELS_DIR/$1.onnx" ] && [ -f "$sidecar" ] || return 1
  expected="$(sha256sum "$MODELS_DIR/$1.pt" | cut -d' ' -f1)
imgsz=$IMGSZ
dynamic=$DYNAMIC"
  [ "$(cat "$sidecar")" = "$expected" ]
}

stale=()
for d in $DETECTORS; do
  if is_current "$d"; then
    say "$d.onnx is up to date (exported from this $d.pt, imgsz=$IMGSZ dynamic=$DYNAMIC), skipping export"
  else
    stale+=("$d")
  fi
done

INT8="${ROLLCALL_EXPORT_INT8:-0}"
if [ "${#stale[@]}" -gt 0 ] || [ "$INT8" = 1 ]; then
  if [ ! -x "$EXPORT_VENV/bin/python" ]; then
    say "creating export venv $EXPORT_VENV"
    "$PYTHON" -m venv "$EXPORT_VENV"
  fi
  say "installing export dependencies (torch CPU, ultralytics, onnx) into $EXPORT_VENV"
  "$EXPORT_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c dependencies/constraints.txt -r dependencies/export.txt
  # Offline, no auto-install from inside ultralytics, a private writable settings dir.
  export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false
  export YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$EXPORT_VENV/ultralytics-config}"
  mkdir -p "$YOLO_CONFIG_DIR"
  for d in "${stale[@]}"; do
    t0=$(date +%s)
    PYTHONPATH="$REPO/src" "$EXPORT_VENV/bin/python" -m edge.models_cli export "$MODELS_DIR/$d.pt" \
      --out-dir "$MODELS_DIR" --imgsz "$IMGSZ" "${EXPORT_FLAGS[@]}" --force 1>&2
    say "exported $d.onnx in $(( $(date +%s) - t0 )) s"
  done
  if [ "$INT8" = 1 ]; then  # quantize skips by itself when NAME-int8.onnx is current
    read -r -a calibration <<<"${ROLLCALL_CALIBRATION:-$MIRROR/../video/classroom.gif $MIRROR/../video/one-by-one-person-detection.mp4}"
    for d in $DETECTORS; do
      PYTHONPATH="$REPO/src" "$EXPORT_VENV/bin/python" -m edge.models_cli quantize "$MODELS_DIR/$d.onnx" \
        --imgsz "$IMGSZ" --calibration "${calibration[@]}" 1>&2
    done
  fi
fi
say "models ready in $MODELS_DIR ($(( $(date +%s) - start )) s)"
