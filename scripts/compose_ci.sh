#!/usr/bin/env bash
# CI end-to-end check of `docker compose up` (called by .ci/run after the tests):
#   1. Docker engine + compose + base image (../shared/ci/docker-engine.sh), models (prepare_models.sh:
#      idempotent, under a second when ./models is current, re-exports a stale ONNX);
#   2. CurveZMQ keys (scripts/demo_keys.sh), build the images, scan each rollcall/* image's filesystem
#      for secrets (scan_image_secrets.sh, fails on a finding), `docker compose up -d` (the README's
#      demo, Curve on both ZeroMQ links; the edge log must show it; login on: anonymous API calls get 401);
#   3. wait (bounded, CI_ATTENDANCE_TIMEOUT_S, default 600 s) until the API shows EVERY enrolled demo
#      student present in the demo session (the students camera shows all of them), and nobody else;
#   4. collect_logs.sh + `python -m analysis`, check both produced output;
#   4b. fault injection on the running demo (python -m tests.faults.compose_faults: cloud, edge,
#      Rekognition and camera killed and started, cloud paused 30 s; each time every enrolled student
#      must be present once in a new session, nobody else), bounded by CI_FAULTS_BUDGET_S (default
#      300 s); table in res/faults-compose.md; CI_FAULTS=0 skips it;
#   5. always `docker compose down -v` (trap). Prints timings; on failure the containers' log tails.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
TIMEOUT_S="${CI_ATTENDANCE_TIMEOUT_S:-600}"
ASSETS="${ROLLCALL_ASSETS_DIR:-../shared/assets}"
ENROLLED=$(find "$ASSETS/faces/enroll" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$ENROLLED" -gt 0 ] || { echo "[compose_ci] no enrolled students in $ASSETS/faces/enroll" >&2; exit 1; }
RUN_ID="${CI_RUN_ID:-ci-$(date -u +%Y%m%d-%H%M%S)}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
t0=$(date +%s)
step_start=$t0
say() { printf '[compose_ci %4ds] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }
step() { local now; now=$(date +%s); say "done in $(( now - step_start )) s: $1"; step_start=$now; }
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-rollcall-ci}"
export ROLLCALL_HTTP_PUBLISH="${ROLLCALL_HTTP_PUBLISH:-18080}"

failed=1
cleanup() {
  if [ "$failed" = 1 ]; then
    say "FAILED; container states and log tails:"
    docker compose ps >&2 || true
    docker compose logs --no-color --tail=40 >&2 || true
  fi
  say "docker compose down -v"
  docker compose --profile load --profile lecture down -v --remove-orphans >/dev/null 2>&1 || true
  say "total $(( $(date +%s) - t0 )) s"
}
trap cleanup EXIT

say "docker engine"
bash ../shared/ci/docker-engine.sh
step "docker engine ready"

ROLLCALL_EDGE_MODELS_DIR="${ROLLCALL_MODELS_DIR:-$REPO/models}" bash scripts/prepare_models.sh
step "models ready"

bash scripts/local_secret.sh  # the local Rekognition service's key pair secret, in .env
PYTHON="$PY" bash scripts/demo_keys.sh  # CurveZMQ keys (./keys): the demo runs with Curve on both links
docker compose down -v --remove-orphans >/dev/null 2>&1 || true
say "building images"
mkdir -p res/collected_logs
if ! docker compose build >"res/collected_logs/$RUN_ID.build.log" 2>&1; then
  tail -n 60 "res/collected_logs/$RUN_ID.build.log" >&2
  exit 1
fi
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^rollcall/' >&2
step "images built"

say "secrets scan of the built images (/app and the project's packages)"
PYTHON="$PY" bash scripts/scan_image_secrets.sh
step "images scanned for secrets"

say "docker compose up -d"
docker compose up -d
step "stack started (healthy dependencies, seed completed)"

say "waiting up to ${TIMEOUT_S} s until all $ENROLLED enrolled students are present in the demo session"
wait_start=$(date +%s)
docker compose run -T --rm --no-deps seed --api http://cloud:8080 wait-attendance \
  --classroom "${ROLLCALL_DEMO_CLASSROOM_ID:-demo-101}" --min-records "$ENROLLED" --timeout "$TIMEOUT_S" --interval 5 \
  > "$REPO/res/collected_logs/$RUN_ID.attendance.json"
"$PY" - "$REPO/res/collected_logs/$RUN_ID.attendance.json" <<'PYCHECK'
import json, os, sys
data = json.load(open(sys.argv[1]))
enrolled = set(os.listdir(os.environ.get("ROLLCALL_ASSETS_DIR", "../shared/assets") + "/faces/enroll"))
ids = [r["student_id"] for r in data["records"]]
seen = set(ids)
assert len(ids) == len(seen), f"a student has two attendance records: {sorted(ids)}"
assert seen == enrolled, f"present {sorted(seen)}; missing {sorted(enrolled - seen)}; not enrolled {sorted(seen - enrolled)}"
print(f"[compose_ci] all {len(enrolled)} enrolled students present in session {data['session_id']}: {sorted(seen)}",
      file=sys.stderr)
PYCHECK
say "all $ENROLLED students present $(( $(date +%s) - wait_start )) s after the stack was up"
# The links ran CurveZMQ (the default), never the plain-TCP opt-in. (Logs to a file first: grep -q
# closing the pipe early would fail the pipeline under pipefail.)
docker compose logs --no-color cloud edge >"res/collected_logs/$RUN_ID.transport.log" 2>&1
for started in ingest_started edge_started; do
  grep -Eq "\"$started\".*\"transport\": *\"curve\"" "res/collected_logs/$RUN_ID.transport.log" \
    || { say "no $started event with transport=curve in the logs"; exit 1; }
done
! grep -q '"transport_plaintext"' "res/collected_logs/$RUN_ID.transport.log" || { say "a tier ran plain TCP"; exit 1; }
say "cloud and edge ran CurveZMQ"
# Login is on: the published API refuses an anonymous caller (the seeder above used its token).
anon=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ROLLCALL_HTTP_PUBLISH}/api/students" || true)
[ "$anon" = 401 ] || { say "anonymous GET /api/students answered $anon, not 401"; exit 1; }
anon_post=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${ROLLCALL_HTTP_PUBLISH}/api/classrooms" || true)
[ "$anon_post" = 401 ] || { say "anonymous POST /api/classrooms answered $anon_post, not 401"; exit 1; }
say "the API refuses anonymous callers (401)"
step "attendance shown by the API"

sleep "${CI_EXTRA_RUN_S:-20}"  # a little more traffic for the analysis
out_dir="$(./collect_logs.sh --run-id "$RUN_ID" | tail -n1)"
for tier in cloud edge iot rekognition; do
  compgen -G "$out_dir/$tier/*.jsonl" >/dev/null || { say "no $tier logs in $out_dir"; exit 1; }
done
step "logs collected into $out_dir"

PYTHONPATH="$REPO/src" "$PY" -m analysis "$out_dir" --out "res/analysis/$RUN_ID"
for f in summary.md summary.json latency.png; do
  [ -s "res/analysis/$RUN_ID/$f" ] || { say "analysis did not write $f"; exit 1; }
done
"$PY" - "res/analysis/$RUN_ID/summary.json" <<'PYCHECK'
import json, sys
data = json.load(open(sys.argv[1]))
records = data["attendance"]["records"]
e2e = data["stages"]["end to end (captured -> recorded)"]
assert records >= 1 and e2e["n"] >= 1, f"analysis found {records} attendance_recorded events, {e2e['n']} end-to-end samples"
print(f"[compose_ci] analysis: {records} attendance records, end to end p50 {e2e['p50']:.0f} ms (n={e2e['n']})", file=sys.stderr)
PYCHECK
step "analysis written to res/analysis/$RUN_ID"

if [ "${CI_FAULTS:-1}" = 1 ]; then
  FAULTS_BUDGET_S="${CI_FAULTS_BUDGET_S:-300}"
  say "fault injection on the demo (up to $FAULTS_BUDGET_S s)"
  timeout "$(( FAULTS_BUDGET_S + 60 ))" "$PY" -m tests.faults.compose_faults \
    --api "http://localhost:$ROLLCALL_HTTP_PUBLISH" --project "$COMPOSE_PROJECT_NAME" --budget "$FAULTS_BUDGET_S"
  step "every fault recovered (res/faults-compose.md)"
fi
failed=0
say "OK"
