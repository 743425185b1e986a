#!/usr/bin/env bash
# The image everything names is the one scripts/image.sh builds: the chart's
# default operator.image (repository and tag), the Dockerfile's version label
# default and the image scripts' default name all follow CMakeLists.txt's version.
# Usage: bash test_image_name.sh [path-to-cmop-binary]   (the binary prints the version)
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
version=$(sed -n 's/^project(cmop VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"
repository=$(sed -n 's/^CMOP_IMAGE_REPOSITORY=\${CMOP_IMAGE_REPOSITORY:-\(.*\)}$/\1/p' "$src/scripts/podman-env.sh")
[ -n "$repository" ] || fail "scripts/podman-env.sh names no default image repository"
python=/usr/bin/python3  # Debian's, with python3-yaml (scripts/install-deps.sh)
[ -x "$python" ] || python=python3
chart=$("$python" -c '
import sys, yaml
v = yaml.safe_load(open(sys.argv[1]))["operator"]["image"]
print("%s:%s" % (v["repository"], v["tag"]))' "$src/charts/chartmuseum/values.yaml")
[ "$chart" = "$repository:$version" ] || fail "the chart's operator.image is $chart, scripts/image.sh builds $repository:$version"
label=$(sed -n 's/^ARG VERSION=//p' "$src/Dockerfile")
[ "$label" = "$version" ] || fail "the Dockerfile's VERSION default is '$label', the project is $version"
if [ -n "${1:-}" ]; then
  printed=$("$1" --version)
  [ "$printed" = "cmop $version" ] || fail "cmop --version prints '$printed'"
fi
echo "ok: $repository:$version everywhere"
