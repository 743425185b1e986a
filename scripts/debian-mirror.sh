#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (the first ".../debian" URI in
# /etc/apt/sources.list.d/*.sources or a "deb" line), http://deb.debian.org/debian
# when there is none; CMOP_DEBIAN_MIRROR overrides. Used for apt-get source
# (scripts/libgit2.sh) and debootstrap (scripts/image.sh), so that both reach the
# same mirror as the machine's own apt, also where only that mirror is reachable.
#   bash scripts/debian-mirror.sh            -> http://deb.debian.org/debian
#   bash scripts/debian-mirror.sh security   -> the debian-security mirror ("" if none)
set -euo pipefail
kind=${1:-main}
uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
  done
  return 0
}
if [ "$kind" = security ]; then
  uris | grep -E '/debian-security/?$' | sed -n '1{s|/$||;p;}'
elif [ -n "${CMOP_DEBIAN_MIRROR:-}" ]; then
  echo "${CMOP_DEBIAN_MIRROR%/}"
else
  mirror=$(uris | grep -E '/debian/?$' | sed -n '1{s|/$||;p;}')
  echo "${mirror:-http://deb.debian.org/debian}"
fi
