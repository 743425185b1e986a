#!/usr/bin/env bash
# Configures and builds cmop (and its tests) into ${CMOP_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR="${CMOP_BUILD_DIR:-build}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# ccache hashes the locale; one fixed locale lets the image build (Dockerfile, same
# setting) reuse this machine's compilations of the static binary.
export LANG=C.UTF-8
unset LC_ALL LC_CTYPE LC_MESSAGES
# The static libgit2 every build links (built once, then cached; see the script).
LIBGIT2_PREFIX=$(bash scripts/libgit2.sh)
# CMOP_WERROR=ON makes every compiler warning an error (scripts/test.sh, i.e. CI).
WERROR="${CMOP_WERROR:-OFF}"
if [ ! -f "$BUILD_DIR/build.ninja" ] ||
   ! grep -qxF "CMOP_LIBGIT2_PREFIX:PATH=$LIBGIT2_PREFIX" "$BUILD_DIR/CMakeCache.txt" ||
   ! grep -qxF "CMOP_WERROR:BOOL=$WERROR" "$BUILD_DIR/CMakeCache.txt"; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${CMOP_BUILD_TYPE:-RelWithDebInfo}" \
    -DCMOP_LIBGIT2_PREFIX="$LIBGIT2_PREFIX" -DCMOP_WERROR="$WERROR" "$@"
fi
# CMOP_TARGETS limits the build (e.g. "cmop"); default: everything.
ninja -C "$BUILD_DIR" -j"$(nproc)" ${CMOP_TARGETS:-}
