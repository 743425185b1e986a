#!/usr/bin/env bash
# Builds the cmop image from the Dockerfile with podman, also offline:
#
#   bash scripts/image.sh            -> ghcr.io/cmop/cmop:<project version> (CMOP_IMAGE overrides)
#
# The build stage needs a Debian bookworm image. Used in this order: one made
# earlier by this script (localhost/debian:bookworm), docker.io/library/debian:bookworm
# when present or pullable, else one made here with
# `debootstrap --variant=minbase bookworm` from the Debian mirror this machine's
# apt uses, imported with `podman import`. The build reaches that mirror from
# inside (--network host) for the build dependencies and libgit2's source package.
# podman runs with the containers.conf of scripts/podman-env.sh (runc, cgroupfs)
# and builds with --isolation chroot, which works on VMs where crun cannot set
# rlimits or runs into hybrid cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh

LOCAL_BASE=localhost/debian:bookworm
UPSTREAM_BASE=docker.io/library/debian:bookworm
started=$(date +%s)

if podman image exists "$LOCAL_BASE"; then
  base=$LOCAL_BASE
elif podman image exists "$UPSTREAM_BASE" ||
     { [ "${CMOP_IMAGE_PULL:-1}" = 1 ] && timeout 60 podman pull -q "$UPSTREAM_BASE" >/dev/null 2>&1; }; then
  base=$UPSTREAM_BASE
else
  mirror=$(bash scripts/debian-mirror.sh)
  security=$(bash scripts/debian-mirror.sh security)
  echo "image.sh: $UPSTREAM_BASE cannot be pulled; making $LOCAL_BASE with debootstrap from $mirror" >&2
  rootfs=$(mktemp -d /var/tmp/cmop-debootstrap.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
  } >"$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import -q - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  base=$LOCAL_BASE
fi
echo "image.sh: building $CMOP_IMAGE on $base" >&2

# The host's ccache, where scripts/test.sh's build-static put the same compilations
# (same compiler package, flags and relative paths): the image's compile is then
# mostly cache hits. CMOP_IMAGE_CCACHE=0 builds with the Dockerfile's own cache.
ccache_args=()
host_ccache=$(ccache -k cache_dir 2>/dev/null || true)
if [ "${CMOP_IMAGE_CCACHE:-1}" = 1 ] && [ -n "$host_ccache" ]; then
  mkdir -p "$host_ccache"
  ccache_args=(-v "$host_ccache:/ccache-host" --build-arg CCACHE_DIR=/ccache-host)
fi

podman build --network host --isolation "$PODMAN_ISOLATION" --layers "${ccache_args[@]}" \
  --build-arg BASE_IMAGE="$base" \
  --build-arg VERSION="$CMOP_VERSION" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$CMOP_IMAGE" -f Dockerfile . >&2
size=$(podman image inspect --format '{{.Size}}' "$CMOP_IMAGE")
echo "image.sh: built $CMOP_IMAGE ($(( size / 1024 / 1024 )) MiB) in $(( $(date +%s) - started )) s" >&2
echo "$CMOP_IMAGE"
