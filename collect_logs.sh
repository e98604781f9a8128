#!/usr/bin/env bash
# Gather every tier's JSON logs into res/collected_logs/<run-id>/<tier>/.
#
#   ./collect_logs.sh [--run-id ID] [--out DIR]                 # local docker compose run
#   ./collect_logs.sh --inventory deploy/inventory.ini [--run-id ID] [--tier cloud|edge|iot]...
#
# Local: the `logs` volume is shared by every container of the compose project, so one
# `docker cp <container>:/app/logs -` of any project container (running or stopped) gets all
# of them. EC2: for each inventory host, `ssh host sudo docker run --rm -v rollcall-logs:/logs:ro
# ... tar` streams that host's logs volume back. Files are sorted by their tier prefix
# (<tier>-<instance>.jsonl[.N], see src/common/logs.py). Idempotent: the run's folder is
# replaced, so re-running with the same --run-id gives the same result. A relative --out is
# relative to the current directory; the default is the repository's res/collected_logs.
# Prints the run's folder (absolute) as the last line of stdout.
# Env: COMPOSE_FILE / COMPOSE_PROJECT_NAME as for docker compose; DOCKER (default docker).
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
CALLER_PWD="$PWD"
cd "$(dirname "$0")"
REPO="$PWD"
# shellcheck source=deploy/lib.sh
. deploy/lib.sh

RUN_ID="run-$(date -u +%Y%m%d-%H%M%S)"
OUT_ROOT="$REPO/res/collected_logs"
INVENTORY=""
TIERS=()
DOCKER="${DOCKER:-docker}"
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }  # the header comment
die() { echo "collect_logs: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --run-id) RUN_ID="${2:?}"; shift 2 ;;
    --out) OUT_ROOT="${2:?}"; [[ "$OUT_ROOT" == /* ]] || OUT_ROOT="$CALLER_PWD/$OUT_ROOT"; shift 2 ;;
    --inventory) INVENTORY="${2:?}"; shift 2 ;;
    --tier) TIERS+=("${2:?}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[[ "$RUN_ID" =~ ^[A-Za-z0-9._-]+$ ]] || die "--run-id may only use letters, digits, . _ -"
[ ${#TIERS[@]} -gt 0 ] || TIERS=(cloud edge iot)

WORK="$(mktemp -d /tmp/rollcall-logs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
RAW="$WORK/raw"
mkdir -p "$RAW"
sources=()

if [ -z "$INVENTORY" ]; then
  cids="$($DOCKER compose ps -a -q 2>/dev/null || true)"  # -a: stopped containers too
  [ -n "$cids" ] || die "no containers in this compose project (run from the repo after docker compose up)"
  got=0
  for cid in $cids; do
    mkdir -p "$RAW/local"
    if $DOCKER cp "$cid:/app/logs" - 2>/dev/null | tar -x -C "$RAW/local" 2>/dev/null; then
      sources+=("local compose container $cid:/app/logs")
      got=1
      break
    fi
  done
  [ "$got" = 1 ] || die "could not copy /app/logs out of any compose container"
else
  [ -f "$INVENTORY" ] || die "inventory $INVENTORY not found"
  for tier in "${TIERS[@]}"; do
    hosts="$(ini_get "$INVENTORY" "$tier" hosts)"
    [ -n "$hosts" ] || continue
    user="$(ini_get "$INVENTORY" "$tier" user)"; port="$(ini_get "$INVENTORY" "$tier" ssh_port)"
    ssh_opts "$INVENTORY" "$tier"; opts=("${SSH_OPTS[@]}")
    for host in $hosts; do
      dest="$RAW/$tier-$host"
      mkdir -p "$dest"
      echo "== $tier $user@$host" >&2
      if ssh "${opts[@]}" -p "${port:-22}" "$user@$host" \
          "sudo docker run --rm -v rollcall-logs:/logs:ro --entrypoint tar rollcall/$tier:latest -C /logs -cf - ." \
          >"$WORK/$tier-$host.tar" && tar -x -C "$dest" -f "$WORK/$tier-$host.tar"; then
        sources+=("$tier $user@$host:volume rollcall-logs")
      else
        die "could not fetch logs from $tier host $host"
      fi
    done
  done
  [ ${#sources[@]} -gt 0 ] || die "no hosts in $INVENTORY"
fi

OUT="$OUT_ROOT/$RUN_ID"
rm -rf "$OUT"
mkdir -p "$OUT"
count=0
while IFS= read -r -d '' file; do
  name="$(basename "$file")"
  tier="${name%%-*}"
  [[ "$tier" =~ ^[a-z_]+$ ]] || tier=unknown
  mkdir -p "$OUT/$tier"
  if [ -e "$OUT/$tier/$name" ] && ! cmp -s "$file" "$OUT/$tier/$name"; then
    name="${file#"$RAW"/}"; name="${name//\//_}"  # same file name from two hosts: keep both
  fi
  cp "$file" "$OUT/$tier/$name"
  count=$((count + 1))
done < <(find "$RAW" -type f \( -name '*.jsonl' -o -name '*.jsonl.[0-9]*' \) -print0 | sort -z)
{
  echo "run_id=$RUN_ID"
  echo "collected_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'source=%s\n' "${sources[@]}"
  (cd "$OUT" && find . -type f -name '*.jsonl*' | sort)
} >"$OUT/MANIFEST.txt"
[ "$count" -gt 0 ] || die "no *.jsonl log files found"
echo "collect_logs: $count log files -> $OUT" >&2
echo "$OUT"
