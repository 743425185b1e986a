#!/usr/bin/env bash
# Renders charts/chartmuseum with real `helm template` (values.schema.json
# validated) in the configurations users run (defaults, operator on,
# persistence, ingress, watchNamespace, refusals with the chart's own messages),
# checks the objects, the CRD and the RBAC with python, the NOTES, the chart as a
# subchart behind `condition: chartmuseum.enabled`, and helm lint --strict; once
# with Helm 3 and once with Helm 4. No cluster and no kubectl needed.
# Usage: bash test_chart.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/helm_env.sh"
each_helm "$here/check_chart.py" "$src/charts/chartmuseum"
