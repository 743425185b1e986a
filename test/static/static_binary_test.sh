#!/usr/bin/env bash
# The static cmop (-DCMOP_STATIC=ON) in an empty root.
#
#   bash static_binary_test.sh path/to/static/cmop     (as root: it uses chroot)
#
# Checks: ldd calls it "not a dynamic executable"; stripped it is under 15 MiB;
# chrooted into a directory holding nothing but the stripped binary, /etc/hosts,
# /etc/passwd, /etc/group and /etc/nsswitch.conf (no shared libraries, no NSS
# modules, no CA directory), running as uid 65532 without HOME (so libgit2 asks
# getpwuid for the home directory), `cmop serve` resolves a name from /etc/hosts
# and syncs a real repository from `git daemon` on 127.0.0.1 by that name; over
# https it trusts the CA named by SSL_CERT_FILE, or else the bundle at
# /etc/ssl/certs/ca-certificates.crt, and nothing without either.
set -euo pipefail
BIN=${1:?usage: static_binary_test.sh path/to/static/cmop}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
support="$here/../support"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "$BIN does not exist: build it with CMOP_STATIC=ON (scripts/test.sh does, as target cmop_static)"
[ "$(id -u)" -eq 0 ] || fail "this test chroots and must run as root"
chroot=$(command -v chroot) || fail "chroot (coreutils) is missing"

# --- linked statically, small when stripped ----------------------------------
ldd_out=$(ldd "$BIN" 2>&1 || true)
echo "ldd: $ldd_out"
grep -q 'not a dynamic executable' <<<"$ldd_out" || fail "ldd lists shared libraries: $ldd_out"

work=$(mktemp -d /tmp/cmop-static-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/root"
mkdir -p "$root/etc" "$root/tmp" "$root/state" "$root/ca"
chmod 1777 "$root/tmp"
strip --strip-unneeded -o "$root/cmop" "$BIN"
size=$(stat -c %s "$root/cmop")
echo "stripped size: $size bytes ($(( size / 1024 / 1024 )) MiB)"
[ "$size" -lt $(( 15 * 1024 * 1024 )) ] || fail "the stripped binary is $size bytes, over 15 MiB"

# --- the empty root -----------------------------------------------------------
printf '127.0.0.1 localhost\n127.0.0.1 gitserver.test\n' >"$root/etc/hosts"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
chown 65532:65532 "$root/state"
chmod 0700 "$root/state"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- a git repository with one chart, served by git daemon and smart HTTPS -----
src="$work/src"
git init -q -b main "$src"
mkdir -p "$src/charts/hello/templates"
printf 'apiVersion: v2\nname: hello\nversion: 1.2.3\n' >"$src/charts/hello/Chart.yaml"
printf 'replicas: 1\n' >"$src/charts/hello/values.yaml"
printf 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: hello}\n' >"$src/charts/hello/templates/cm.yaml"
git -C "$src" add -A
git -C "$src" -c user.name=t -c user.email=t@example.invalid commit -q -m hello
mkdir -p "$work/served"
git clone -q --bare "$src" "$work/served/charts.git"

git_port=$(free_port)
git daemon --reuseaddr --export-all --listen=127.0.0.1 --port="$git_port" \
  --base-path="$work/served" "$work/served" 2>"$work/git-daemon.log" &
pids+=($!)
wait_port "$git_port" || fail "git daemon did not start"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.pem" -days 2 \
  -subj /CN=gitserver.test -addext subjectAltName=DNS:gitserver.test 2>/dev/null
https_port=$(free_port)
python3 "$support/git_http_server.py" --root "$work/served" --port "$https_port" \
  --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" 2>"$work/git-https.log" &
pids+=($!)
wait_port "$https_port" || fail "the https git server did not start"

# --- cmop serve in the empty root ----------------------------------------------
serve_port=$(free_port)
api="http://127.0.0.1:$serve_port"
serve_pid=""
start_serve() {  # extra environment for cmop as arguments (VAR=value ...)
  env -i "$@" "$chroot" --userspec=65532:65532 "$root" /cmop serve --listen "127.0.0.1:$serve_port" \
    --state-dir /state >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_port "$serve_port" || { cat "$work/serve.log" >&2; fail "cmop serve did not start in the empty root"; }
}
stop_serve() {
  kill -TERM "$serve_pid"
  local rc=0
  wait "$serve_pid" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$work/serve.log" >&2; fail "cmop serve exited $rc on SIGTERM"; }
}
new_repo() {  # name url -> the HTTP status; the answer is in $work/answer
  curl -sS -o "$work/answer" -w '%{http_code}' -X POST "$api/repo/new" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$1\",\"git\":\"$2\"}"
}

start_serve
status=$(new_repo plain "git://gitserver.test:$git_port/charts.git")
[ "$status" = 200 ] || { cat "$work/answer" "$work/serve.log" >&2; fail "sync over git://gitserver.test answered $status"; }
curl -fsS "$api/charts/index.yaml" >"$work/index.yaml"
grep -q 'hello-1.2.3.tgz' "$work/index.yaml" || { cat "$work/index.yaml" >&2; fail "index.yaml lacks hello 1.2.3"; }
echo "ok: synced git://gitserver.test (name from /etc/hosts, no HOME, uid 65532) and published hello-1.2.3"

# https without any CA: refused, naming the certificate.
status=$(new_repo untrusted "https://gitserver.test:$https_port/charts.git")
[ "$status" != 200 ] && grep -qi 'certificate' "$work/answer" ||
  { cat "$work/answer" >&2; fail "https without a CA bundle was not refused for its certificate ($status)"; }
echo "ok: https without a CA bundle refused: $(cat "$work/answer")"
stop_serve

# SSL_CERT_FILE names the bundle.
cp "$work/tls.pem" "$root/ca/test-ca.pem"
start_serve SSL_CERT_FILE=/ca/test-ca.pem
status=$(new_repo via-env "https://gitserver.test:$https_port/charts.git")
[ "$status" = 200 ] || { cat "$work/answer" >&2; fail "https with SSL_CERT_FILE answered $status"; }
echo "ok: https trusted through SSL_CERT_FILE"
stop_serve

# No variable: the usual bundle path, though the binary's OpenSSL dir is absent.
mkdir -p "$root/etc/ssl/certs"
cp "$work/tls.pem" "$root/etc/ssl/certs/ca-certificates.crt"
start_serve
status=$(new_repo via-path "https://gitserver.test:$https_port/charts.git")
[ "$status" = 200 ] || { cat "$work/answer" >&2; fail "https with /etc/ssl/certs/ca-certificates.crt answered $status"; }
echo "ok: https trusted through /etc/ssl/certs/ca-certificates.crt"
stop_serve
echo "PASS"
