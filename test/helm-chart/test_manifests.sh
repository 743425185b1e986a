#!/usr/bin/env bash
# Checks manifests/: YAML that parses, generated files equal to a fresh
# rendering of charts/chartmuseum (scripts/render-manifests.sh into a
# temporary folder, compared as data), and the example Chartmuseum valid
# against the CRD. Usage: bash test_manifests.sh [path-to-cmop-binary] (unused)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${CMOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build="$src/../shared/tools/helm-render/build.sh"
if [ ! -f "$build" ]; then
  echo "FAIL: helm-render is missing: $build does not exist" >&2
  exit 1
fi
if ! HELM_RENDER=$(bash "$build"); then
  echo "FAIL: building helm-render with $build failed" >&2
  exit 1
fi
export HELM_RENDER
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
if ! CMOP_SOURCE_DIR="$src" bash "$src/scripts/render-manifests.sh" "$fresh" 2>"$fresh/render.log"; then
  echo "FAIL: rendering the chart for the manifests failed:" >&2
  cat "$fresh/render.log" >&2
  exit 1
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" "$here/check_manifests.py" "$src/manifests" "$fresh"
