#!/usr/bin/env bash
# The main job, end to end on one machine: builds cmop, runs `cmop serve` on the
# embedded default (a local folder that is itself a Helm chart repository), makes
# a git repository from this project's own charts/ dir, registers it, and shows
# the served index.yaml. Keeps serving until Ctrl-C (CMOP_DEMO_EXIT=1: stop at once).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CMOP_TARGETS=cmop bash scripts/build.sh >&2
CMOP="$ROOT/${CMOP_BUILD_DIR:-build}/cmop"

PORT="${CMOP_DEMO_PORT:-8081}"
DEMO="${CMOP_DEMO_DIR:-$(mktemp -d /tmp/cmop-demo.XXXXXX)}"
mkdir -p "$DEMO"
API="http://127.0.0.1:$PORT"

echo "== demo dir: $DEMO" >&2
rm -rf "$DEMO/charts-src"
mkdir -p "$DEMO/charts-src"
cp -r charts "$DEMO/charts-src/"
git -C "$DEMO/charts-src" init -q -b main
git -C "$DEMO/charts-src" add -A
git -C "$DEMO/charts-src" -c user.name=cmop-demo -c user.email=demo@cmop.invalid commit -q -m "charts from cmop"

"$CMOP" serve --listen "127.0.0.1:$PORT" --state-dir "$DEMO/state" --allow-local-git &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$API/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== POST /repo/new (clone, package every chart, publish)" >&2
curl -sS -X POST "$API/repo/new" -H 'Content-Type: application/json' \
  -d "{\"name\":\"demo\",\"git\":\"file://$DEMO/charts-src\"}"
echo
echo "== GET /repo/demo/update (nothing changed: nothing packaged, nothing uploaded)" >&2
curl -sS "$API/repo/demo/update"
echo
echo "== GET /charts/index.yaml (helm repo add demo $API/charts)" >&2
curl -sS "$API/charts/index.yaml"
echo "== the package, as helm package lays it out (GET /charts/chartmuseum-<version>.tgz | tar -tz)" >&2
version=$(curl -sS "$API/charts/index.yaml" | sed -n 's/^    version: //p;T;q')
curl -sS "$API/charts/chartmuseum-$version.tgz" | tar -tzf - >"$DEMO/package-contents.txt"
sed -n '1,12p' "$DEMO/package-contents.txt"
echo "   ... ($(wc -l <"$DEMO/package-contents.txt") files)"

if [ "${CMOP_DEMO_EXIT:-0}" = "1" ]; then
  exit 0
fi
echo "== serving on $API; Ctrl-C to stop" >&2
wait $SERVE_PID
