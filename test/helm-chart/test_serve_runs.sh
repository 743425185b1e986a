#!/usr/bin/env bash
# Runs the `cmop serve` container that charts/chartmuseum renders with
# operator.serve.mode=deployment (its args and env, secrets resolved from the
# rendered Secrets) against a fake ChartMuseum with basic auth and against the
# real CNCF Distribution registry, and checks that it gets ready and publishes.
# Usage: bash test_serve_runs.sh [path-to-cmop-binary]   (default: build/cmop)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_render_env.sh"
cmop=${1:-$src/build/cmop}
exec "$python" "$here/check_serve_runs.py" "$HELM_RENDER" "$src/charts/chartmuseum" "$cmop"
