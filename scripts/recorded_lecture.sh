#!/usr/bin/env bash
# Recorded-lecture mode: process one video file once, end to end, and write its attendance CSV.
#
#   ./scripts/recorded_lecture.sh VIDEO [--classroom ID] [--camera ID] [--fps N] [--keep-running]
#
# 1. starts rekognition + cloud + edge (docker compose), the edge with a large frame buffer
#    (ROLLCALL_EDGE_BUFFER_CAPACITY, default 2000 here) and the camera with a deep send queue, so
#    frames are queued, not dropped (up to about that many sampled frames: FPS x video seconds);
#    then runs the seed to completion, so the demo students are enrolled before the first frame;
# 2. opens a new session for the classroom (default lecture-hall) through the cloud API, closing
#    one that an interrupted run left open;
# 3. runs the `camera-lecture` IoT container: the file once (no loop), not paced in real time
#    (ROLLCALL_IOT_REALTIME=false), sampling ROLLCALL_LECTURE_FPS frames per second of video,
#    then END_OF_STREAM;
# 4. waits until that END_OF_STREAM has reached the cloud (/api/metrics streams_ended);
# 5. closes the session and writes res/attendance-<classroom>-<UTC time>.csv (the cloud's export; its
#    last columns first_seen_video_s / last_seen_video_s give each student's first and last sighting
#    as seconds into the video, from the crops' meta.camera_ms).
# The stack is stopped at the end, also on failure (volumes kept), unless --keep-running.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }  # the header comment
die() { echo "recorded_lecture: $*" >&2; exit 1; }
VIDEO=""; CLASSROOM="lecture-hall"; CAMERA="cam-lecture"; FPS=2; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --classroom) CLASSROOM="${2:?}"; shift 2 ;;
    --camera) CAMERA="${2:?}"; shift 2 ;;
    --fps) FPS="${2:?}"; shift 2 ;;
    --keep-running) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [ -z "$VIDEO" ] || die "one video at a time"; VIDEO="$1"; shift ;;
  esac
done
[ -n "$VIDEO" ] || { usage >&2; exit 2; }
[ -e "$VIDEO" ] || die "$VIDEO: no such file or folder (an image folder works too)"
VIDEO_DIR="$(cd "$(dirname "$VIDEO")" && pwd)"
t0=$(date +%s)
say() { printf '[recorded_lecture %4ds] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }
export ROLLCALL_LECTURE_DIR="$VIDEO_DIR" ROLLCALL_LECTURE_FILE_NAME="$(basename "$VIDEO")"
# The edge queues the file's frames instead of dropping the oldest (up to this many waiting).
export ROLLCALL_EDGE_BUFFER_CAPACITY="${ROLLCALL_EDGE_BUFFER_CAPACITY:-2000}"
export ROLLCALL_LECTURE_CLASSROOM_ID="$CLASSROOM" ROLLCALL_LECTURE_CAMERA_ID="$CAMERA" ROLLCALL_LECTURE_FPS="$FPS"
bash scripts/demo_keys.sh  # the lecture camera's CurveZMQ key, bound to this camera id and classroom
api() { docker compose run -T --rm --no-deps seed --api http://cloud:8080 "$@"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

finish() {
  local rc=$?
  [ -z "${out:-}" ] || rm -f "$out.tmp"
  [ "$rc" = 0 ] || say "FAILED (exit $rc); see: docker compose logs --tail=50 cloud edge"
  if [ "$KEEP" = 0 ]; then docker compose --profile lecture stop >/dev/null 2>&1 || true; fi
}
trap finish EXIT

say "starting rekognition, cloud and edge"
docker compose up -d rekognition cloud edge
say "enrolling the demo students (seed, idempotent)"
api seed >/dev/null
# A session an interrupted run left open would block the new one (one open session per classroom).
session="$(api open-session --classroom "$CLASSROOM" --close-open --name "Recorded lecture $(basename "$VIDEO")" \
  | json_field session_id)"
say "session $session opened for classroom $CLASSROOM"
since_ms=$(( $(date +%s) * 1000 ))

say "replaying $VIDEO once (camera $CAMERA, $FPS frames per video second, not real time)"
docker compose --profile lecture run --rm --no-deps camera-lecture >/dev/null
say "camera finished; waiting for END_OF_STREAM at the cloud"
api wait-eos --camera "$CAMERA" --since-ms "$since_ms" --timeout "${ROLLCALL_LECTURE_EOS_TIMEOUT_S:-600}" >/dev/null

mkdir -p res
out="res/attendance-$CLASSROOM-$(date -u +%Y%m%dT%H%M%SZ).csv"
api export-csv --session "$session" --out - --close >"$out.tmp"
mv "$out.tmp" "$out"
say "attendance of session $session: $(( $(wc -l <"$out") - 1 )) student(s) -> $out"
cat "$out"
