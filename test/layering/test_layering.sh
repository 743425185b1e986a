#!/usr/bin/env bash
# The layering is a build rule (CMakeLists.txt, cmop_layer): compiled with the
# include path of the core, a file that includes a role's header fails to compile,
# and so does a role's file including another role's header. Each layer's probe of
# its own headers compiles, so the refusals are the rule's, not a broken probe.
# $1: the cmop binary (its folder is the build dir, where the probe targets are).
set -euo pipefail
build_dir=$(dirname "$1")
build() { cmake --build "$build_dir" --target "cmop_probe_$1" 2>&1; }

compiles() {
  local out
  if ! out=$(build "$1"); then
    echo "FAIL: probe $1 should compile:"
    echo "$out"
    exit 1
  fi
  echo "ok: probe $1 compiles"
}

refused() {  # probe, the header it must not find
  local out
  if out=$(build "$1"); then
    echo "FAIL: probe $1 compiled: $2 is visible to its layer"
    exit 1
  fi
  if ! grep -qF "$2: No such file or directory" <<<"$out"; then
    echo "FAIL: probe $1 failed, but not for want of $2:"
    echo "$out"
    exit 1
  fi
  echo "ok: probe $1 refused ($2 not on its include path)"
}

compiles core_ok
compiles serve_ok
compiles sidecar_ok
refused core_includes_serve cmop/serve/server.hpp
refused core_includes_operate cmop/operate/controller.hpp
refused core_includes_httpd cmop/httpd/http_server.hpp
refused serve_includes_operate cmop/operate/controller.hpp
refused core_includes_sidecar cmop/sidecar/client.hpp
refused serve_includes_sidecar cmop/sidecar/client.hpp
refused sidecar_includes_operate cmop/operate/controller.hpp
