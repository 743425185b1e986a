#!/usr/bin/env bash
# Checks manifests/: YAML that parses, generated files equal to a fresh
# rendering of charts/chartmuseum (scripts/render-manifests.sh into a
# temporary folder, compared as data), and the example Chartmuseum valid
# against the CRD. Usage: bash test_manifests.sh [path-to-cmop-binary] (unused)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_render_env.sh"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
if ! CMOP_SOURCE_DIR="$src" bash "$src/scripts/render-manifests.sh" "$fresh" 2>"$fresh/render.log"; then
  echo "FAIL: rendering the chart for the manifests failed:" >&2
  cat "$fresh/render.log" >&2
  exit 1
fi
"$python" "$here/check_manifests.py" "$src/manifests" "$fresh"
