#!/usr/bin/env bash
# Renders charts/chartmuseum with `cmop serve` as its own Deployment
# (operator.serve.mode=deployment), publishing through the ChartMuseum Service or
# into an OCI registry with ChartMuseum left out, checks the objects and the
# refusals of inconsistent values, and lints those configurations.
# Usage: bash test_serve_modes.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_render_env.sh"
exec "$python" "$here/check_serve_modes.py" "$HELM_RENDER" "$src/charts/chartmuseum"
