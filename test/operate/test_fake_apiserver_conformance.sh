#!/usr/bin/env bash
# The fake API server answers as a real kube-apiserver v1.32 did (recorded in
# k8s-api-golden/): replays every recorded case against it. $1 (the cmop binary) is unused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
support="$here/../support"
# Debian's python3 (with python3-yaml), as the Catch2 suites use.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$py" "$support/fake_kube_apiserver.py" --port "$port" --token conformance-admin \
  --namespaces default,kube-system &
fake=$!
trap 'kill "$fake" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  kill -0 "$fake" || { echo "the fake API server exited"; exit 1; }
  "$py" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
"$py" "$here/fake_apiserver_conformance.py" "http://127.0.0.1:$port" conformance-admin \
  "$here/k8s-api-golden/cases.json" "$here/../../manifests/crd.yaml"
