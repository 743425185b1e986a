#!/usr/bin/env bash
# Renders charts/chartmuseum with `cmop serve` as its own Deployment
# (operator.serve.mode=deployment), publishing through the ChartMuseum Service or
# into an OCI registry with ChartMuseum left out, checks the objects, the
# refusals of inconsistent values (the chart's own messages in Helm's stderr),
# the OCI-only NOTES, and lints those configurations; with Helm 3 and Helm 4.
# Usage: bash test_serve_modes.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_env.sh"
each_helm "$here/check_serve_modes.py" "$src/charts/chartmuseum"
