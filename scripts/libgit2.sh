#!/usr/bin/env bash
# Builds the one libgit2 every cmop build links (dev, tests, the static binary and
# the image) and prints its install prefix on stdout.
#
#   prefix=$(bash scripts/libgit2.sh)      # then PKG_CONFIG_PATH=$prefix/lib/pkgconfig
#
# Why not Debian's libgit2-dev: bookworm's libgit2.a (1.5) is built with GSSAPI,
# which has no static archive, so `-static` cannot link it, and 1.5 has neither
# server timeouts nor shallow fetches. The source is Debian's own package (the
# suite below, trixie's 1.9 builds on bookworm), fetched with `apt-get source`
# from the Debian mirror this machine's apt already uses, through a private apt
# state (its own sources list, lists and cache in a temp dir that is deleted
# afterwards): the system's apt configuration is never touched. It is built as a
# static, position-independent library without GSSAPI/NTLM, HTTPS through
# OpenSSL, SSH through libssh2, and system zlib, PCRE2 and http-parser.
#
# The prefix is cached under ${CMOP_LIBGIT2_CACHE:-$HOME/.cache/cmop}/libgit2-<version>-<options>,
# so every later run is a stat. CMOP_LIBGIT2_VERSION pins the Debian source
# version; when the mirror no longer serves it, the newest version of the suite
# is built instead (and said so on stderr).
set -euo pipefail

SUITE="${CMOP_LIBGIT2_SUITE:-trixie}"
VERSION="${CMOP_LIBGIT2_VERSION:-1.9.0+ds-2+deb13u1}"
CACHE="${CMOP_LIBGIT2_CACHE:-${HOME:-/root}/.cache/cmop}"
# Part of the cache key: a change here must not reuse a prefix built otherwise.
CMAKE_OPTIONS=(
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED_LIBS=OFF
  -DBUILD_TESTS=OFF
  -DBUILD_CLI=OFF
  -DBUILD_EXAMPLES=OFF
  -DBUILD_FUZZERS=OFF
  -DUSE_GSSAPI=OFF
  -DUSE_NTLMCLIENT=OFF
  -DUSE_HTTPS=OpenSSL
  -DUSE_SSH=ON
  -DUSE_BUNDLED_ZLIB=OFF
  -DREGEX_BACKEND=pcre2
  -DUSE_HTTP_PARSER=http-parser
  -DENABLE_REPRODUCIBLE_BUILDS=ON
)
KEY=$(printf '%s\n' "${CMAKE_OPTIONS[@]}" | sha256sum | cut -c1-8)

say() { echo "libgit2.sh: $*" >&2; }

cached_prefix() {
  local p="$CACHE/libgit2-$1-$KEY"
  if [ -f "$p/.complete" ]; then echo "$p"; return 0; fi
  return 1
}

if cached_prefix "$VERSION"; then exit 0; fi

# What building needs, from Debian (the same list scripts/install-deps.sh installs,
# plus dpkg-dev and xz-utils for unpacking a source package).
NEEDED=(build-essential cmake ninja-build pkg-config dpkg-dev xz-utils ca-certificates
        zlib1g-dev libssl-dev libssh2-1-dev libpcre2-dev libhttp-parser-dev debian-archive-keyring)
missing=()
for p in "${NEEDED[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

MIRROR=$(bash "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh")

WORK=$(mktemp -d /tmp/cmop-libgit2.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" >"$WORK/sources.list"
APT=(-o "Dir::Etc::SourceList=$WORK/sources.list" -o "Dir::Etc::SourceParts=$WORK/none"
     -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o "APT::Sandbox::User=root" -qq)
say "fetching the libgit2 source package from $MIRROR ($SUITE)"
apt-get "${APT[@]}" update >&2
# The versions are read whole, not piped into `grep -q` (under pipefail an early match
# would fail the pipeline on SIGPIPE).
served=$(apt-cache "${APT[@]}" showsrc libgit2 | sed -n 's/^Version: //p')
if ! printf '%s\n' "$served" | grep -qx "$VERSION"; then
  newest=$(printf '%s\n' "$served" | sort -V | tail -1)
  [ -n "$newest" ] || { say "the mirror serves no libgit2 source for $SUITE"; exit 1; }
  say "libgit2 $VERSION is not served by the mirror any more; building $newest"
  VERSION="$newest"
  if cached_prefix "$VERSION"; then exit 0; fi
fi
(cd "$WORK/src" && apt-get "${APT[@]}" source "libgit2=$VERSION" >&2)
SRC=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'libgit2-*' | head -1)

PREFIX="$CACHE/libgit2-$VERSION-$KEY"
rm -rf "$PREFIX"
mkdir -p "$CACHE"
say "building libgit2 $VERSION into $PREFIX"
cmake -S "$SRC" -B "$WORK/build" -G Ninja -DCMAKE_INSTALL_PREFIX="$PREFIX" "${CMAKE_OPTIONS[@]}" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log" >&2; exit 1; }
ninja -C "$WORK/build" install >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log" >&2; exit 1; }
# Only a finished install counts as a cache hit.
echo "$VERSION" >"$PREFIX/.complete"
echo "$PREFIX"
