#!/usr/bin/env bash
# Creates (or completes) the compose demo's CurveZMQ keys in ${ROLLCALL_KEYS_DIR:-./keys} (git-ignored)
# with `rollcall-keys generate`: the cloud, the edge `edge`, and each demo camera bound to its
# classroom: cam-students and cam-classroom (ROLLCALL_DEMO_CLASSROOM_ID, default demo-101),
# cam-load-1..N (ROLLCALL_LOAD_CAMERAS, default 8) and the lecture camera (ROLLCALL_LECTURE_CAMERA_ID,
# default cam-lecture, in ROLLCALL_LECTURE_CLASSROOM_ID, default lecture-hall). Idempotent: existing
# keys are kept, a camera given another classroom is re-bound. docker-compose.yml's one-shot `keys`
# service then gives each service only its own bundle (read-only, owned by the service's user).
# Uses rollcall-keys from PATH, else python3 with pyzmq on ./src, else the cloud image (as this user).
# Called by scripts/up.sh, scripts/compose_ci.sh and scripts/recorded_lecture.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# setting NAME DEFAULT -> what compose will use: the shell's value, else .env's, else DEFAULT
setting() {
  local value="${!1:-}"
  [ -n "$value" ] || value="$(sed -n "s/^$1=//p" .env 2>/dev/null | tail -n1)"
  printf '%s' "${value:-$2}"
}
keys="$(setting ROLLCALL_KEYS_DIR ./keys)"
room="$(setting ROLLCALL_DEMO_CLASSROOM_ID demo-101)"
load="$(setting ROLLCALL_LOAD_CAMERAS 8)"
cameras=(--camera "cam-students=$room@edge" --camera "cam-classroom=$room@edge"
         --camera "$(setting ROLLCALL_LECTURE_CAMERA_ID cam-lecture)=$(setting ROLLCALL_LECTURE_CLASSROOM_ID lecture-hall)@edge")
for ((i = 1; i <= load; i++)); do cameras+=(--camera "cam-load-$i=$room@edge"); done

mkdir -p "$keys"
py="${PYTHON:-python3}"
if command -v rollcall-keys >/dev/null 2>&1; then
  rollcall-keys generate --dir "$keys" --quiet "${cameras[@]}"
elif "$py" -c 'import zmq' >/dev/null 2>&1 && [ -f src/common/keys_cli.py ]; then
  PYTHONPATH="$PWD/src" "$py" -m common.keys_cli generate --dir "$keys" --quiet "${cameras[@]}"
else
  printf '[demo_keys.sh] no rollcall-keys here: running it from the cloud image\n' >&2
  docker compose build keys >/dev/null
  docker run --rm --user "$(id -u):$(id -g)" -v "$(cd "$keys" && pwd):/keys" --entrypoint rollcall-keys \
    "rollcall/cloud:${ROLLCALL_IMAGE_TAG:-latest}" generate --dir /keys --quiet "${cameras[@]}"
fi
printf '[demo_keys.sh] CurveZMQ keys ready in %s (%s cameras registered)\n' "$keys" "$(( ${#cameras[@]} / 2 ))" >&2
