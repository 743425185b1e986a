# Sourced by the chart tests: sets $src (the project), $python, and exports
# $HELM_RENDER (the shared helm-render tool, built on first use), or fails the
# test with the reason.
src=${CMOP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
helm_render_build="$src/../shared/tools/helm-render/build.sh"
if [ ! -f "$helm_render_build" ]; then
  echo "FAIL: helm-render is missing: $helm_render_build does not exist" >&2
  exit 1
fi
if ! HELM_RENDER=$(bash "$helm_render_build"); then
  echo "FAIL: building helm-render with $helm_render_build failed" >&2
  exit 1
fi
export HELM_RENDER
python=/usr/bin/python3
[ -x "$python" ] || python=python3
