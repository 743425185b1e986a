#!/usr/bin/env bash
# Checks manifests/: YAML that parses, generated files equal to a fresh
# rendering of charts/chartmuseum by scripts/render-manifests.sh (compared as
# data) with Helm 3 and with Helm 4, and the example Chartmuseum valid against
# the CRD. Usage: bash test_manifests.sh [path-to-cmop-binary]   (unused)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_env.sh"
each_helm "$here/check_manifests.py" "$src"
