#!/usr/bin/env bash
# Smoke-tests the image scripts/image.sh built (CMOP_IMAGE, default
# ghcr.io/cmop/cmop:<project version>) with podman, all on 127.0.0.1:
#
#   bash scripts/smoke-image.sh
#
# 1. `--version` prints the project version; the OCI labels name it.
# 2. `serve` as the image's user (65532) with a read-only root, a tmpfs /tmp and a
#    state volume, a git repository mounted read-only and the API on a published
#    loopback port: it answers /healthz, publishes the repo's chart, serves it in
#    /charts/index.yaml.
# 3. `trigger`, run by name (`cmop`, found on the image's PATH) as the operator's
#    CronJobs do, asks that serve to update the repo and exits 0.
# 4. `operate` starts against a fake kube-apiserver and answers /healthz.
# 5. SIGTERM (podman stop) ends serve with exit status 0; a new container on the
#    same volume still knows the repo and serves its chart (state survives).
# Exit status 0 and a last line "smoke: N passed, 0 failed" when all hold.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh
ROOT=$PWD
passed=0
fail() { echo "smoke: FAIL: $*" >&2; echo "smoke: $passed passed, 1 failed"; exit 1; }
ok() { passed=$((passed + 1)); echo "smoke: ok: $*"; }

podman image exists "$CMOP_IMAGE" || fail "$CMOP_IMAGE does not exist: build it with scripts/image.sh"
work=$(mktemp -d /tmp/cmop-smoke.XXXXXX)
chmod 755 "$work"
tag=$(basename "$work" | tr -dc 'a-zA-Z0-9')
serve_name="cmop-smoke-serve-$tag"
operate_name="cmop-smoke-operate-$tag"
volume="cmop-smoke-state-$tag"
kube_pid=""
cleanup() {
  podman rm -f -t 0 "$serve_name" "$operate_name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  [ -z "$kube_pid" ] || { kill "$kube_pid" 2>/dev/null; wait "$kube_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {  # url: waits up to 20 s for a 200
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- 1. version and labels ------------------------------------------------------
version=$(podman run --rm "$CMOP_IMAGE" --version)
[ "$version" = "cmop $CMOP_VERSION" ] || fail "--version printed '$version', expected 'cmop $CMOP_VERSION'"
label=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$CMOP_IMAGE")
[ "$label" = "$CMOP_VERSION" ] || fail "label org.opencontainers.image.version is '$label'"
ok "--version: $version; org.opencontainers.image.version=$label"

# --- a git repository with one chart, mounted into the container ---------------
src="$work/src"
git init -q -b main "$src"
mkdir -p "$src/charts/smoke/templates"
printf 'apiVersion: v2\nname: smoke\nversion: 0.3.0\n' >"$src/charts/smoke/Chart.yaml"
printf 'greeting: hello\n' >"$src/charts/smoke/values.yaml"
printf 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: smoke}\ndata: {greeting: {{ .Values.greeting }}}\n' \
  >"$src/charts/smoke/templates/cm.yaml"
git -C "$src" add -A
git -C "$src" -c user.name=smoke -c user.email=smoke@example.invalid commit -q -m smoke
git clone -q --bare "$src" "$work/charts.git"
chmod -R a+rX "$work/charts.git"

# --- 2. serve: read-only root, tmpfs /tmp, uid 65532, state volume, published port
serve_port=$(free_port)
api="http://127.0.0.1:$serve_port"
podman volume create "$volume" >/dev/null
start_serve() {
  podman run -d --name "$serve_name" --read-only --tmpfs /tmp \
    -v "$volume:/var/lib/cmop" -v "$work/charts.git:/git/charts.git:ro" \
    -p "127.0.0.1:$serve_port:8081" "$CMOP_IMAGE" \
    serve --listen 0.0.0.0:8081 --allow-local-git >/dev/null
  wait_http "$api/healthz" || { podman logs "$serve_name" >&2 || true; fail "serve did not answer /healthz on $api"; }
}
start_serve
user=$(podman inspect --format '{{.Config.User}}' "$serve_name")
[ "$user" = "65532:65532" ] || fail "serve runs as '$user', not 65532:65532"
ok "serve answers $api/healthz (read-only root, tmpfs /tmp, user $user, state volume)"

answer=$(curl -sS -X POST "$api/repo/new" -H 'Content-Type: application/json' \
  -d '{"name":"smoke","git":"file:///git/charts.git"}')
# Each answer is read whole before it is searched: with pipefail, `producer | grep -q`
# fails whenever grep exits on the first match while the producer is still writing.
curl -fsS -o "$work/index.yaml" "$api/charts/index.yaml" && grep -q 'smoke-0.3.0.tgz' "$work/index.yaml" ||
  { echo "$answer" >&2; podman logs "$serve_name" >&2; fail "/charts/index.yaml does not list smoke-0.3.0.tgz"; }
curl -fsS -o "$work/smoke.tgz" "$api/charts/smoke-0.3.0.tgz"
tar -tzf "$work/smoke.tgz" >"$work/smoke.list" || fail "the served package is not a tar+gzip archive"
grep -qx 'smoke/Chart.yaml' "$work/smoke.list" || fail "the served package lacks smoke/Chart.yaml"
ok "serve published the mounted repo: /charts/index.yaml lists smoke-0.3.0, the package downloads"

# --- 3. trigger, by name on PATH, as a CronJob runs it -------------------------
podman run --rm --network host --read-only --entrypoint cmop "$CMOP_IMAGE" \
  trigger smoke --endpoint "$api" >"$work/trigger.out" 2>&1 ||
  { cat "$work/trigger.out" >&2; fail "cmop trigger smoke exited non-zero"; }
ok "trigger (command 'cmop' on PATH) updated repo smoke: $(tail -1 "$work/trigger.out")"

# --- 4. operate against a fake kube-apiserver -----------------------------------
kube_port=$(free_port)
python3 test/support/fake_kube_apiserver.py --port "$kube_port" --token smoke-token 2>"$work/kube.log" &
kube_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$kube_port") 2>/dev/null && break; sleep 0.1; done
printf '%s\n' 'apiVersion: v1' 'kind: Config' 'current-context: smoke' \
  "clusters: [{name: smoke, cluster: {server: \"http://127.0.0.1:$kube_port\"}}]" \
  'users: [{name: smoke, user: {token: smoke-token}}]' \
  'contexts: [{name: smoke, context: {cluster: smoke, user: smoke}}]' >"$work/kubeconfig"
chmod 644 "$work/kubeconfig"
operate_port=$(free_port)
podman run -d --name "$operate_name" --network host --read-only --tmpfs /tmp \
  -v "$work/kubeconfig:/kube/config:ro" "$CMOP_IMAGE" \
  operate --kubeconfig /kube/config --sidecar-url "$api" --listen "127.0.0.1:$operate_port" \
  --image "$CMOP_IMAGE" >/dev/null
wait_http "http://127.0.0.1:$operate_port/healthz" ||
  { podman logs "$operate_name" >&2 || true; fail "operate did not answer /healthz"; }
podman stop -t 10 "$operate_name" >/dev/null
rc=$(podman inspect --format '{{.State.ExitCode}}' "$operate_name")
[ "$rc" = 0 ] || { podman logs "$operate_name" >&2; fail "operate exited $rc on SIGTERM"; }
ok "operate started against the fake kube-apiserver, answered /healthz, exited 0 on SIGTERM"

# --- 5. SIGTERM exits 0, the state survives a new container ---------------------
podman stop -t 20 "$serve_name" >/dev/null
rc=$(podman inspect --format '{{.State.ExitCode}}' "$serve_name")
[ "$rc" = 0 ] || { podman logs "$serve_name" >&2; fail "serve exited $rc on SIGTERM"; }
ok "serve exited 0 on SIGTERM"
podman rm "$serve_name" >/dev/null
start_serve
curl -fsS "$api/repo/smoke" >"$work/repo.json" || fail "after a restart on the same volume, GET /repo/smoke failed"
curl -fsS -o "$work/index.yaml" "$api/charts/index.yaml" && grep -q 'smoke-0.3.0.tgz' "$work/index.yaml" || fail "after a restart, index.yaml lost smoke-0.3.0"
ok "a new container on the same state volume knows repo smoke and serves smoke-0.3.0"
podman stop -t 20 "$serve_name" >/dev/null

echo "smoke: took $SECONDS s"
echo "smoke: $passed passed, 0 failed"
