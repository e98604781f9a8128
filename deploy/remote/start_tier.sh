#!/usr/bin/env bash
# Runs ON an EC2 host (as root) in the uploaded directory: build and (re)start one tier.
#   bash deploy/remote/start_tier.sh cloud|edge|iot
# Settings come from ./.env (written by upload_to_all_ec2.sh). Idempotent: `up -d` recreates
# only what changed. For the cloud, `ROLLCALL_REKOGNITION_MODE=aws` in .env adds
# docker-compose.aws.yml (real Rekognition via the instance role).
set -euo pipefail
tier="${1:?usage: start_tier.sh cloud|edge|iot}"
cd "$(dirname "$0")/../.."
case "$tier" in cloud|edge|iot) ;; *) echo "start_tier: unknown tier $tier" >&2; exit 2 ;; esac
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
files=(-f "docker-compose.$tier.yml")
if [ "$tier" = cloud ] && grep -qx 'ROLLCALL_REKOGNITION_MODE=aws' .env 2>/dev/null; then
  files+=(-f docker-compose.aws.yml)
fi
if [ "$tier" = cloud ] && ! grep -q '^ROLLCALL_LOCAL_AWS_SECRET=.' .env 2>/dev/null; then
  # the local Rekognition service's key pair secret: made here, on the host, never uploaded
  printf 'ROLLCALL_LOCAL_AWS_SECRET=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>.env
fi
"${compose[@]}" -p "rollcall-$tier" "${files[@]}" up -d --build --remove-orphans
"${compose[@]}" -p "rollcall-$tier" "${files[@]}" ps
