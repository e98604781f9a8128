# Shared by upload_to_all_ec2.sh and collect_logs.sh (source it; bash).
# Inventory: an INI file with [all] defaults and one section per tier (see inventory.example.ini).

# ini_get FILE SECTION KEY -> value of KEY in SECTION, else in [all], else empty.
ini_get() {
  local file="$1" section="$2" key="$3" value
  value="$(_ini_raw "$file" "$section" "$key")"
  [ -n "$value" ] || value="$(_ini_raw "$file" all "$key")"
  printf '%s' "$value"
}

_ini_raw() {
  awk -v want="$2" -v key="$3" '
    /^[[:space:]]*[#;]/ { next }
    /^[[:space:]]*\[/ { gsub(/[][[:space:]]/, ""); section = $0; next }
    section == want {
      line = $0
      eq = index(line, "=")
      if (eq == 0) next
      k = substr(line, 1, eq - 1); v = substr(line, eq + 1)
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", k); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
      if (k == key) { print v; exit }
    }' "$1"
}

# expand_home PATH -> PATH with a leading ~ replaced by $HOME
expand_home() { case "$1" in "~"/*) printf '%s' "$HOME/${1#"~/"}" ;; *) printf '%s' "$1" ;; esac; }

# ssh_opts FILE TIER -> sets the array SSH_OPTS: options shared by ssh and scp for that tier's
# hosts (-p / -P added by the caller). An array, so a key path with spaces stays one argument.
ssh_opts() {
  local key
  key="$(expand_home "$(ini_get "$1" "$2" key)")"
  SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15)
  if [ -n "$key" ]; then SSH_OPTS+=(-i "$key"); fi
}
