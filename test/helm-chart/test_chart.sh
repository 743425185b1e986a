#!/usr/bin/env bash
# Renders charts/chartmuseum with helm-render in the configurations users run
# (defaults, operator on, persistence, ingress, watchNamespace, refusals) and
# checks the objects, the CRD, the RBAC and values.schema.json with python;
# then helm-render lint --strict. No cluster and no kubectl needed.
# Usage: bash test_chart.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${CMOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build="$src/../shared/tools/helm-render/build.sh"
if [ ! -f "$build" ]; then
  echo "FAIL: helm-render is missing: $build does not exist" >&2
  exit 1
fi
if ! helm_render=$(bash "$build"); then
  echo "FAIL: building helm-render with $build failed" >&2
  exit 1
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
exec "$python" "$here/check_chart.py" "$helm_render" "$src/charts/chartmuseum"
