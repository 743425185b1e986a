#!/usr/bin/env bash
# Runs the `cmop serve` container that charts/chartmuseum renders with
# operator.serve.mode=deployment (its args and env, secrets resolved from the
# rendered Secrets) against a fake ChartMuseum with basic auth and against the
# real CNCF Distribution registry, and checks that it gets ready and publishes;
# once with what Helm 3 renders and once with what Helm 4 renders.
# Usage: bash test_serve_runs.sh [path-to-cmop-binary]   (default: build/cmop)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_env.sh"
cmop=${1:-$src/build/cmop}
if [ ! -x "$cmop" ]; then
  echo "FAIL: the cmop binary $cmop is missing (build it first)" >&2
  exit 1
fi
each_helm "$here/check_serve_runs.py" "$src/charts/chartmuseum" "$cmop"
