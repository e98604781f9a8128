#!/usr/bin/env bash
# Secrets scan of the built images (issue 13 item 8), run by scripts/compose_ci.sh after
# `docker compose build`: for each rollcall/* image, a container is created (never started), its
# filesystem exported, and /app, the project's own packages in /opt/venv and /usr/local/bin/rollcall-*
# scanned with scripts/secrets_scan.py --dir against the audited .secrets.baseline. Each image is
# bounded by SECRETS_SCAN_TIMEOUT_S (default 300 s). Fails on any finding.
# Usage: scripts/scan_image_secrets.sh [image ...]   (default: every local rollcall/* image)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"
TIMEOUT_S="${SECRETS_SCAN_TIMEOUT_S:-300}"
say() { printf '[scan_image_secrets] %s\n' "$*" >&2; }
images=("$@")
if [ "${#images[@]}" -eq 0 ]; then
  mapfile -t images < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^rollcall/' | grep -v '<none>' | sort -u)
fi
[ "${#images[@]}" -gt 0 ] || { say "no rollcall/* images"; exit 1; }
packages=(); for d in src/*/; do n=$(basename "$d"); [[ "$n" == *.egg-info ]] || packages+=("$n"); done
work=$(mktemp -d); cid=""
trap 'rm -rf "$work"; [ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
status=0
for image in "${images[@]}"; do
  rm -rf "$work/fs"; mkdir -p "$work/fs"
  cid=$(docker create "$image")
  patterns=('app' 'usr/local/bin/rollcall-*')
  for p in "${packages[@]}"; do patterns+=("opt/venv/lib/python*/site-packages/$p"); done
  # tar exits 2 when a pattern matches nothing (an image without some package): tolerated
  timeout "$TIMEOUT_S" bash -c 'docker export "$1" | tar -x -C "$2" --wildcards "${@:3}" 2>/dev/null; true' \
    _ "$cid" "$work/fs" "${patterns[@]}"
  docker rm -f "$cid" >/dev/null; cid=""
  files=$(find "$work/fs" -type f | wc -l)
  say "$image: $files files extracted"
  if ! timeout "$TIMEOUT_S" "$PY" scripts/secrets_scan.py --dir "$work/fs" --baseline "$PWD/.secrets.baseline"; then
    say "$image: FAILED (findings above, or the scan timed out)"; status=1
  fi
done
exit "$status"
