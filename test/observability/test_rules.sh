#!/usr/bin/env bash
# The chart's PrometheusRule, rendered by real Helm 3 and Helm 4, checked by
# promtool (Debian's prometheus package): the rules load (`promtool check rules`)
# and each alert fires on the series it is about and not on healthy ones
# (`promtool test rules` with rules_test.yaml).
# Usage: bash test_rules.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${CMOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
if [ -z "${CMOP_HELM3:-}" ] || [ -z "${CMOP_HELM4:-}" ]; then
  tools=$(bash "$src/scripts/helm.sh")
  CMOP_HELM3=$tools/helm3 CMOP_HELM4=$tools/helm4
fi
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  echo "FAIL: promtool is missing (scripts/install-deps.sh installs Debian's prometheus package)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for helm in "$CMOP_HELM3" "$CMOP_HELM4"; do
  name=$(basename "$helm")
  dir="$work/$name"
  mkdir -p "$dir"
  HELM_CONFIG_HOME="$dir/config" HELM_CACHE_HOME="$dir/cache" HELM_DATA_HOME="$dir/data" \
    "$helm" template cmop "$src/charts/chartmuseum" -n cmop --set fullnameOverride=cmop \
    --set operator.enabled=true --set prometheusRule.enabled=true \
    --show-only templates/prometheusrule.yaml >"$dir/rendered.yaml"
  python3 - "$dir/rendered.yaml" "$dir/rules.yaml" <<'PY'
import sys, yaml
rule = yaml.safe_load(open(sys.argv[1]))
assert rule["kind"] == "PrometheusRule", rule["kind"]
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
PY
  cp "$here/rules_test.yaml" "$dir/"
  echo "== $name: promtool check rules"
  if ! "$promtool" check rules "$dir/rules.yaml"; then failed=1; fi
  echo "== $name: promtool test rules"
  if ! (cd "$dir" && "$promtool" test rules rules_test.yaml); then failed=1; fi
done
if [ "$failed" -ne 0 ]; then
  echo "FAIL: the chart's PrometheusRule did not pass promtool" >&2
  exit 1
fi
echo "all rule checks passed with helm3 and helm4"
