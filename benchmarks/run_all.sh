#!/usr/bin/env bash
# Every benchmark of issue 15 in one run (~15 min on 2 cores), then res/benchmarks/REPORT.md,
# report.json and the PNG plots. Comparisons inside each step are interleaved and given as ratios.
# LOAD_VARIANTS=0 skips the two extra 20-camera runs (phase-locked cameras, slower arrivals).
#
#   bash benchmarks/run_all.sh            # from the repository root, with .venv (dependencies/bench.txt)
#
# Needs: ./models (yolov8s-people-fall.onnx + -int8.onnx + .pt, YuNet), ../shared/assets. The first
# run creates .venv-ultralytics with `pip install ultralytics` (PyPI torch + torchvision, ~6 GB,
# several minutes; git-ignored) for the real predictor. ROLLCALL_EXPORT_VENV: a venv with torch +
# ultralytics but no torchvision for the stand-in comparison (default .venv-export, else ../main/.venv-export).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${ROLLCALL_VENV:-.venv}/bin/python
OUT=res/benchmarks
export ROLLCALL_EDGE_MODELS_DIR=${ROLLCALL_EDGE_MODELS_DIR:-$PWD/models}
export ROLLCALL_EDGE_PERSON_MODEL=${ROLLCALL_EDGE_PERSON_MODEL:-yolov8s-people-fall.onnx}
export ROLLCALL_EDGE_PERSON_CLASSES=${ROLLCALL_EDGE_PERSON_CLASSES:-Normal,Fall}
if [ -z "${ROLLCALL_EXPORT_VENV:-}" ]; then
  if [ -x .venv-export/bin/python ]; then ROLLCALL_EXPORT_VENV=$PWD/.venv-export; else ROLLCALL_EXPORT_VENV=$PWD/../main/.venv-export; fi
fi
export ROLLCALL_EXPORT_VENV
LOAD_START=$("$PY" -c 'import os; print(*(f"{x:.2f}" for x in os.getloadavg()))')
echo "[run_all] $(date -u +%FT%TZ) nproc $(nproc), load $LOAD_START"
T0=$SECONDS
step() { echo "[run_all] $1 ($((SECONDS - T0)) s)"; }

step "1/5 detector backends vs ultralytics' predictor"
"$PY" benchmarks/detector_benchmark.py --repeat "${DETECTOR_REPEAT:-1}" --json "$OUT/detector.json"

step "2/5 local Rekognition at 1k/10k/100k faces, stages, under load"
"$PY" benchmarks/rekognition_scale.py --json "$OUT/rekognition_scale.json" > /dev/null

step "3/5 attendance evaluation (recall, calls, bytes)"
SCEN=$(mktemp -d /tmp/rollcall-scenarios.XXXXXX)
trap 'rm -rf "$SCEN"' EXIT
"$PY" -m evaluation.scenarios "$SCEN" > /dev/null
"${ROLLCALL_VENV:-.venv}/bin/rollcall-eval" "$SCEN"/* --json "$OUT/eval.json" | tail -n 9

step "4/5 load profile (cameras at 1 fps, per-hop latency, RSS)"
"$PY" benchmarks/load_profile.py --cameras ${LOAD_CAMERAS:-4 8 12 20} --warmup "${LOAD_WARMUP:-10}" --seconds "${LOAD_SECONDS:-30}" --json "$OUT/load.json"

if [ "${LOAD_VARIANTS:-1}" = 1 ]; then  # side by side with the run above: the same 20 cameras phase-locked, and with slower arrivals
  "$PY" benchmarks/load_profile.py --cameras 20 --iot-env ROLLCALL_IOT_STAGGER_CAMERAS=false --warmup "${LOAD_WARMUP:-10}" --seconds "${LOAD_SECONDS:-30}" --json "$OUT/load_phase_locked.json"
  "$PY" benchmarks/load_profile.py --cameras 20 --photo-seconds 10 --warmup "${LOAD_WARMUP:-10}" --seconds "${LOAD_SECONDS:-30}" --json "$OUT/load_arrivals.json"
fi

step "5/5 report"
# shellcheck disable=SC2086
"$PY" benchmarks/report.py --dir "$OUT" --load-start $LOAD_START
echo "[run_all] done in $((SECONDS - T0)) s"
