#!/usr/bin/env bash
# Renders charts/chartmuseum with helm-render in the configurations users run
# (defaults, operator on, persistence, ingress, watchNamespace, refusals) and
# checks the objects, the CRD, the RBAC and values.schema.json with python;
# then helm-render lint --strict. No cluster and no kubectl needed.
# Usage: bash test_chart.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_render_env.sh"
exec "$python" "$here/check_chart.py" "$HELM_RENDER" "$src/charts/chartmuseum"
