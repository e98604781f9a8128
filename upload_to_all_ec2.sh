#!/usr/bin/env bash
# Deploy Rollcall to EC2, one tier per instance, from an inventory file.
#
#   ./upload_to_all_ec2.sh [--inventory deploy/inventory.ini] [--env deploy/inventory.env]
#                          [--keys deploy/keys] [--tier cloud|edge|iot]... [--no-start] [--dry-run]
# (--keys defaults to $ROLLCALL_DEPLOY_KEYS_DIR, else deploy/keys)
#
# CurveZMQ keys: first `rollcall-keys generate` creates or completes the keys in --keys (git-ignored;
# kept across runs): the cloud, one edge per [edge] host (edge-1, edge-2, ...), one camera per [iot]
# host (the k-th id of [iot] camera_ids, default cam-<k>; with ROLLCALL_IOT_REPLICATE=N in --env,
# <id>-1..N), each bound to ROLLCALL_IOT_CLASSROOM_ID (--env, default demo-101) and to edge-1 (the
# edge the cameras connect to). Each host is shipped only its own bundle (keys/: its secret, the
# public keys it needs), installed on the host by the compose file's one-shot `keys` service.
# For each tier (cloud first, then edge, then iot) and each of its hosts:
#   1. builds a tarball with only what that host needs (sources of its packages + common,
#      dependencies/, docker/, its compose file, deploy/remote/, a generated .env, its keys; the
#      edge gets ./models/*.onnx, the cameras their media, the cloud optionally the demo faces);
#   2. ssh: creates the remote directory; scp: uploads the tarball; ssh: unpacks it and installs
#      Docker + Compose when missing (deploy/remote/install_docker.sh);
#   3. ssh: builds and starts the tier (deploy/remote/start_tier.sh -> docker compose up -d --build).
# Idempotent: a second run re-uploads and `up -d` recreates only what changed.
# --dry-run prints every ssh/scp command instead of running it (the tarballs are still built
# locally and their contents listed).
# Never uploads AWS credentials: the cloud uses the instance role; the generated .env only
# holds ROLLCALL_* settings (peer addresses from the inventory + ROLLCALL_* lines of --env),
# and the upload is refused if anything that looks like a credential is in a tarball.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
cd "$(dirname "$0")"
REPO="$PWD"
# shellcheck source=deploy/lib.sh
. deploy/lib.sh

INVENTORY=deploy/inventory.ini
EXTRA_ENV=deploy/inventory.env
KEYS="${ROLLCALL_DEPLOY_KEYS_DIR:-deploy/keys}"
DRY_RUN=0
START=1
TIERS=()
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }  # the header comment
die() { echo "upload_to_all_ec2: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) INVENTORY="${2:?}"; shift 2 ;;
    --env) EXTRA_ENV="${2:?}"; shift 2 ;;
    --keys) KEYS="${2:?}"; shift 2 ;;
    --tier) TIERS+=("${2:?}"); shift 2 ;;
    --no-start) START=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[ ${#TIERS[@]} -gt 0 ] || TIERS=(cloud edge iot)
[ -f "$INVENTORY" ] || die "inventory $INVENTORY not found (copy deploy/inventory.example.ini)"
for t in "${TIERS[@]}"; do case "$t" in cloud|edge|iot) ;; *) die "unknown tier $t" ;; esac; done

WORK="$(mktemp -d /tmp/rollcall-upload.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# run CMD... : print it (shell-quoted) and run it unless --dry-run
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

first_host() { ini_get "$INVENTORY" "$1" hosts | awk '{print $1}'; }
peer_address() {  # private_address of a tier, else its first host
  local addr; addr="$(ini_get "$INVENTORY" "$1" private_address)"
  [ -n "$addr" ] || addr="$(first_host "$1")"
  [ -n "$addr" ] || die "inventory has no [$1] hosts/private_address (needed by the other tiers)"
  printf '%s' "$addr"
}
resolve() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$REPO/$(expand_home "$1")" ;; esac; }

# extra_setting NAME DEFAULT -> NAME's value in --env, else DEFAULT
extra_setting() {
  local value=""
  [ -f "$EXTRA_ENV" ] && value="$(sed -n "s/^$1=//p" "$EXTRA_ENV" | tail -n1)"
  printf '%s' "${value:-$2}"
}
host_count() { local h; read -r -a h <<<"$(ini_get "$INVENTORY" "$1" hosts)"; echo "${#h[@]}"; }
camera_id() {  # the camera id of the K_HOST-th [iot] host: [iot] camera_ids, else cam-<k>
  local ids; read -r -a ids <<<"$(ini_get "$INVENTORY" iot camera_ids)"
  if [ "${#ids[@]}" -ge "$K_HOST" ]; then printf '%s' "${ids[$((K_HOST - 1))]}"; else printf 'cam-%s' "$K_HOST"; fi
}

rollcall_keys() {  # rollcall-keys from PATH, else ${PYTHON:-python3} with pyzmq on ./src
  if command -v rollcall-keys >/dev/null 2>&1; then rollcall-keys "$@"
  elif "${PYTHON:-python3}" -c 'import zmq' >/dev/null 2>&1; then PYTHONPATH="$REPO/src" "${PYTHON:-python3}" -m common.keys_cli "$@"
  else die "rollcall-keys not found: install the project (pip install -e .) or set PYTHON to a python with pyzmq"
  fi
}

# make_keys: create or complete the CurveZMQ keys of every host in the inventory
make_keys() {
  local args=(generate --dir "$KEYS" --quiet) room replicate n_edge n_iot k id r
  room="$(extra_setting ROLLCALL_IOT_CLASSROOM_ID demo-101)"
  replicate="$(extra_setting ROLLCALL_IOT_REPLICATE 1)"
  [[ "$replicate" =~ ^[0-9]+$ ]] && [ "$replicate" -ge 1 ] || die "ROLLCALL_IOT_REPLICATE must be a number >= 1"
  n_edge="$(host_count edge)"; n_iot="$(host_count iot)"
  for ((k = 1; k <= (n_edge > 0 ? n_edge : 1); k++)); do args+=(--edge "edge-$k"); done
  for ((K_HOST = 1; K_HOST <= n_iot; K_HOST++)); do
    id="$(camera_id)"
    if [ "$replicate" = 1 ]; then args+=(--camera "$id=$room@edge-1")
    else for ((r = 1; r <= replicate; r++)); do args+=(--camera "$id-$r=$room@edge-1"); done
    fi
  done
  rollcall_keys "${args[@]}" || die "could not create the CurveZMQ keys in $KEYS"
  echo "== CurveZMQ keys in $KEYS (rollcall-keys show --dir $KEYS)" >&2
}

# host_bundle TIER K -> the key bundle(s) the K-th host of TIER gets
host_bundle() {
  case "$1" in
    cloud) printf 'cloud' ;;
    edge) printf 'edge-edge-%s' "$2" ;;
    iot) K_HOST="$2"; if [ "$(extra_setting ROLLCALL_IOT_REPLICATE 1)" = 1 ]; then printf 'camera-%s' "$(camera_id)";
         else printf 'camera-%s-*' "$(camera_id)"; fi ;;
  esac
}

# tier_env TIER K -> the .env uploaded to the K-th host of that tier (non-secret settings only)
tier_env() {
  local tier="$1" k="$2"
  echo "# written by upload_to_all_ec2.sh from $(basename "$INVENTORY"); no secrets"
  case "$tier" in
    cloud)
      local mode; mode="$(ini_get "$INVENTORY" cloud rekognition)"; mode="${mode:-local}"
      [ "$mode" = aws ] || [ "$mode" = local ] || die "[cloud] rekognition must be aws or local, not $mode"
      echo "ROLLCALL_REKOGNITION_MODE=$mode"
      echo "ROLLCALL_ASSETS_DIR=./assets" ;;
    edge) local cloud; cloud="$(peer_address cloud)"; echo "ROLLCALL_EDGE_CLOUD_ADDRESS=tcp://$cloud:5556" ;;
    iot) local edge; edge="$(peer_address edge)"; echo "ROLLCALL_IOT_EDGE_ADDRESS=tcp://$edge:5555"
         K_HOST="$k"; echo "ROLLCALL_IOT_CAMERA_ID=$(camera_id)" ;;
  esac
  if [ -f "$EXTRA_ENV" ]; then
    local n=0 line
    while IFS= read -r line || [ -n "$line" ]; do
      n=$((n + 1))
      case "$line" in ''|'#'*) continue ;; esac
      if [[ "$line" =~ ^ROLLCALL_IOT_CAMERA_ID= ]]; then
        echo "upload_to_all_ec2: $EXTRA_ENV:$n: camera ids come from [iot] camera_ids (keys are bound to them)" >&2
      elif [[ "$line" =~ ^ROLLCALL_[A-Z0-9_]+= ]]; then
        echo "$line"
      else
        echo "upload_to_all_ec2: $EXTRA_ENV:$n: not a ROLLCALL_* setting, not uploaded (credentials never are)" >&2
      fi
    done <"$EXTRA_ENV"
  fi
}

# require_file STAGE VAR DEFAULT DIR: the file VAR names in the bundle's .env (else DEFAULT) is in STAGE/DIR
require_file() {
  local stage="$1" var="$2" default="$3" sub="$4" name=""
  [ "$var" = - ] || name="$(sed -n "s/^$var=//p" "$stage/.env" | tail -n1)"
  name="${name:-$default}"
  [ -f "$stage/$sub/$name" ] && return 0
  [ "$var" = - ] && die "$sub/$name is missing from the bundle"
  die "$sub/$name is missing from the bundle ($var names it, default $default; set it in $EXTRA_ENV)"
}

# build_bundle TIER K -> path of the tarball for the K-th host of that tier
build_bundle() {
  local tier="$1" k="$2" stage="$WORK/$1-$2" pkgs
  mkdir -p "$stage/src"
  case "$tier" in
    cloud) pkgs=(common cloud rekognition_local demo_seed) ;;
    edge) pkgs=(common edge) ;;
    iot) pkgs=(common iot) ;;
  esac
  cp pyproject.toml README.md "$stage/"
  cp -R dependencies "$stage/dependencies"
  mkdir -p "$stage/docker" "$stage/deploy"
  cp docker/*.Dockerfile docker/healthcheck.py "$stage/docker/"
  cp -R deploy/remote "$stage/deploy/remote"
  for p in "${pkgs[@]}"; do cp -R "src/$p" "$stage/src/$p"; done
  cp "docker-compose.$tier.yml" "$stage/"
  case "$tier" in
    cloud)
      cp docker-compose.aws.yml "$stage/"
      local assets; assets="$(ini_get "$INVENTORY" cloud assets_dir)"
      if [ -n "$assets" ]; then
        [ -d "$(resolve "$assets")/faces" ] || die "[cloud] assets_dir $assets has no faces/ folder"
        mkdir -p "$stage/assets" && cp -R "$(resolve "$assets")/faces" "$stage/assets/faces"
      fi ;;
    edge)
      local models; models="$(resolve "$(ini_get "$INVENTORY" edge models_dir)")"
      [ "$models" != "$REPO/" ] || models="$REPO/models"
      compgen -G "$models/*.onnx" >/dev/null || die "no *.onnx in $models (run scripts/prepare_models.sh)"
      mkdir -p "$stage/models" && cp "$models"/*.onnx "$stage/models/" ;;
    iot)
      local media; media="$(ini_get "$INVENTORY" iot media_dir)"
      [ -n "$media" ] || die "[iot] media_dir is not set"
      [ -d "$(resolve "$media")" ] || die "[iot] media_dir $media is not a folder"
      mkdir -p "$stage/media"
      find "$(resolve "$media")" -maxdepth 1 -type f \
        \( -iname '*.gif' -o -iname '*.mp4' -o -iname '*.avi' -o -iname '*.mkv' -o -iname '*.jpg' -o -iname '*.png' \) \
        -exec cp {} "$stage/media/" \;
      compgen -G "$stage/media/*" >/dev/null || die "no video/image files in [iot] media_dir $media" ;;
  esac
  tier_env "$tier" "$k" >"$stage/.env"
  # This host's CurveZMQ bundle only: its own secret and the public keys it needs.
  rollcall_keys install --from "$KEYS/bundles" "$(host_bundle "$tier" "$k")=$stage/keys" >/dev/null \
    || die "no CurveZMQ key bundle for $tier host $k in $KEYS"
  find "$stage" \( -name __pycache__ -o -name '*.pyc' -o -name '*.egg-info' \) -prune -exec rm -rf {} +
  # Refuse anything that looks like a credential (outside keys/, which holds this host's key only).
  local bad
  bad="$(find "$stage" -path "$stage/keys" -prune -o \( -name '.aws' -o -name 'credentials' -o -name '*.pem' \
          -o -name 'id_rsa*' -o -name 'id_ed25519*' -o -name '*.key_secret' -o -name 'inventory.*' \) -print)"
  [ -z "$bad" ] || die "refusing to upload credential-like files: $bad"
  local secrets; secrets="$(cd "$stage/keys" && find . -name '*.key_secret' | sort | tr '\n' ' ')"
  case "$tier" in
    cloud) [ "$secrets" = "./cloud/cloud.key_secret " ] ;;
    edge) [ "$secrets" = "./edges/edge-$k.key_secret " ] ;;
    iot) [[ "$secrets" =~ ^(\./cameras/[^ /]+\.key_secret )+$ ]] ;;
  esac || die "refusing to upload: the $tier host $k key bundle holds $secrets"
  if grep -rIlE '^(export )?AWS_(SECRET_ACCESS_KEY|SESSION_TOKEN|ACCESS_KEY_ID)=' "$stage" >/dev/null 2>&1; then
    die "refusing to upload: an AWS credential assignment is in the $tier bundle"
  fi
  # The files the tier's compose file names must be in the bundle (else the container fails remotely).
  case "$tier" in
    edge) require_file "$stage" ROLLCALL_EDGE_PERSON_MODEL yolov8s-people-fall.onnx models
          require_file "$stage" - face_detection_yunet_2023mar.onnx models ;;
    iot) require_file "$stage" ROLLCALL_IOT_MEDIA_FILE classroom.gif media ;;
  esac
  tar -C "$stage" -czf "$WORK/rollcall-$tier-$k.tgz" .
  echo "== $tier host $k bundle: $(tar -tzf "$WORK/rollcall-$tier-$k.tgz" | grep -vc '/$') files, $(du -h "$WORK/rollcall-$tier-$k.tgz" | cut -f1)" >&2
  printf '%s' "$WORK/rollcall-$tier-$k.tgz"
}

deploy_host() {  # TIER HOST BUNDLE
  local tier="$1" host="$2" bundle="$3" user port dir qdir opts dest
  user="$(ini_get "$INVENTORY" "$tier" user)"; port="$(ini_get "$INVENTORY" "$tier" ssh_port)"
  dir="$(ini_get "$INVENTORY" "$tier" remote_dir)"; dir="${dir:-/opt/rollcall}"
  [ -n "$user" ] || die "inventory: no user for [$tier] (or [all])"
  qdir="$(printf '%q' "$dir")"  # quoted for the remote shell
  ssh_opts "$INVENTORY" "$tier"; opts=("${SSH_OPTS[@]}")
  dest="$user@$host"
  echo "== $tier -> $dest:$dir" >&2
  run ssh "${opts[@]}" -p "${port:-22}" "$dest" "sudo mkdir -p $qdir && sudo chown \"\$(id -un)\" $qdir"
  run scp "${opts[@]}" -P "${port:-22}" "$bundle" "$dest:$dir/rollcall-$tier.tgz"
  run ssh "${opts[@]}" -p "${port:-22}" "$dest" \
    "cd $qdir && rm -rf src docker dependencies deploy keys && tar -xzf rollcall-$tier.tgz && rm -f rollcall-$tier.tgz && sudo bash deploy/remote/install_docker.sh"
  if [ "$START" = 1 ]; then
    run ssh "${opts[@]}" -p "${port:-22}" "$dest" "cd $qdir && sudo bash deploy/remote/start_tier.sh $tier"
  fi
}

make_keys
deployed=0
for tier in cloud edge iot; do
  [[ " ${TIERS[*]} " == *" $tier "* ]] || continue
  hosts="$(ini_get "$INVENTORY" "$tier" hosts)"
  if [ -z "$hosts" ]; then echo "upload_to_all_ec2: no [$tier] hosts in $INVENTORY, skipping" >&2; continue; fi
  k=0
  for host in $hosts; do
    k=$((k + 1))
    bundle="$(build_bundle "$tier" "$k")"
    deploy_host "$tier" "$host" "$bundle"
    deployed=$((deployed + 1))
  done
done
[ "$deployed" -gt 0 ] || die "nothing deployed: no hosts in $INVENTORY"
echo "upload_to_all_ec2: $deployed host(s) $([ "$DRY_RUN" = 1 ] && echo 'planned (dry run)' || echo deployed)" >&2
