# Sourced by the chart tests. Sets $src (the project), $python and $helms (the
# real Helm 3 and Helm 4 clients: $CMOP_HELM3 and $CMOP_HELM4 as ctest passes
# them, else the ones scripts/helm.sh installs into the user's cache), and
# defines each_helm. Fails the test with the reason when a client is missing.
src=${CMOP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if [ -z "${CMOP_HELM3:-}" ] || [ -z "${CMOP_HELM4:-}" ]; then
  if ! helm_dir=$(bash "$src/scripts/helm.sh"); then
    echo "FAIL: scripts/helm.sh could not install the Helm clients (set CMOP_HELM3 and CMOP_HELM4)" >&2
    exit 1
  fi
  CMOP_HELM3=${CMOP_HELM3:-$helm_dir/helm3}
  CMOP_HELM4=${CMOP_HELM4:-$helm_dir/helm4}
fi
helms=("$CMOP_HELM3" "$CMOP_HELM4")
for helm in "${helms[@]}"; do
  if [ ! -x "$helm" ]; then
    echo "FAIL: the Helm client $helm is missing or not executable (scripts/helm.sh installs it)" >&2
    exit 1
  fi
done

# each_helm SCRIPT ARGS...: runs the python SCRIPT once per client, as
# `SCRIPT HELM ARGS...`, all of them even after a failure; fails naming every
# client whose run failed.
each_helm() {
  local script=$1 helm failed=()
  shift
  for helm in "${helms[@]}"; do
    echo "=== $(basename "$script") with $(basename "$helm") ($("$helm" version --template '{{.Version}}'))"
    "$python" "$script" "$helm" "$@" || failed+=("$(basename "$helm")")
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL: $(basename "$script") failed with ${failed[*]}" >&2
    return 1
  fi
}
