#!/usr/bin/env bash
# Runs ON an EC2 host (as root): install Docker + Compose when missing. Idempotent.
# Debian/Ubuntu: docker.io + the compose plugin (or docker-compose); Amazon Linux: dnf/yum docker
# + the compose plugin binary from Docker's GitHub releases.
set -euo pipefail
have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }
if command -v docker >/dev/null 2>&1 && have_compose; then
  systemctl is-active --quiet docker 2>/dev/null || systemctl start docker 2>/dev/null || true
  echo "install_docker: docker and compose already present"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose-v2 \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose-plugin \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose
elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
  (command -v dnf >/dev/null 2>&1 && dnf install -y -q docker) || yum install -y -q docker
  if ! have_compose; then
    mkdir -p /usr/local/lib/docker/cli-plugins
    curl -fsSL "https://github.com/docker/compose/releases/download/v2.29.7/docker-compose-linux-$(uname -m)" \
      -o /usr/local/lib/docker/cli-plugins/docker-compose
    chmod +x /usr/local/lib/docker/cli-plugins/docker-compose
  fi
else
  echo "install_docker: no apt-get, dnf or yum on this host; install Docker by hand" >&2
  exit 1
fi
systemctl enable --now docker 2>/dev/null || service docker start
docker version --format 'install_docker: docker {{.Server.Version}} ready'
