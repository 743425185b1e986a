#!/usr/bin/env bash
# Renders charts/chartmuseum's monitoring (ServiceMonitors, PrometheusRule,
# Grafana dashboard) and its ClusterRoles for namespace users with real Helm 3
# and Helm 4, and checks them with python (check_monitoring.py).
# Usage: bash test_monitoring.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_env.sh"
each_helm "$here/check_monitoring.py" "$src/charts/chartmuseum"
