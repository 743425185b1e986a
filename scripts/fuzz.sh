#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (one per untrusted input: Chart.yaml, .helmignore,
# chart archives, index.yaml, semver constraints, state files, sidecar HTTP requests,
# Kubernetes watch streams) for a fixed time each, one after another.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. bash scripts/fuzz.sh 60
#                                                       bash scripts/fuzz.sh 300 fuzz_serve_request
#
# Installs clang and libclang-rt-14-dev when missing, builds build-fuzz/ with
# -DCMOP_FUZZ=ON (clang, ASan + UBSan with -fno-sanitize-recover=all, LeakSanitizer on)
# and runs each TARGET (default: all) for SECONDS (default 60) on one core, from its
# seed corpus fuzz/corpus/<target>/ plus what earlier runs found in
# build-fuzz/corpus/<target>/ (new inputs go there), after replaying the large
# once-failing inputs in fuzz/regressions/<target>/. A failing input is saved as
# build-fuzz/crashes/<target>-{crash,leak,timeout,oom}-<sha1>; the run's output is in
# build-fuzz/<target>.log. Ends with a table: target, execs, seconds, corpus size,
# peak RSS, result. Exit status 1 when any target failed.
# Reproduce a failure: build-fuzz/fuzz/<target> build-fuzz/crashes/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if ! dpkg-query -W -f='${Status}' clang libclang-rt-14-dev 2>/dev/null | grep -q 'install ok installed'; then
  apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >&2
fi
SECONDS_EACH="${1:-60}"
shift || true
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMOP_FUZZ=ON >&2
fi
ninja -C build-fuzz >&2
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do TARGETS+=("$(basename "$f" .cpp)"); done
fi
# libFuzzer runs LeakSanitizer after any input that allocated more than it freed
# (-detect_leaks=1 is its default; stated here so a caller's ASAN_OPTIONS cannot drop
# it silently). UBSan is compiled not to recover; halt_on_error says the same at run time.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p build-fuzz/crashes

# What a libFuzzer log says about how the run ended.
result_of() {
  local log="$1" rc="$2"
  if grep -q 'ERROR: LeakSanitizer' "$log"; then echo "LEAK"
  elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then echo "TIMEOUT"
  elif grep -qE 'ERROR: libFuzzer: out-of-memory|ERROR: libFuzzer: malloc' "$log"; then echo "OOM"
  elif grep -q 'runtime error:' "$log"; then echo "UBSAN"
  elif grep -q 'ERROR: AddressSanitizer' "$log"; then echo "ASAN"
  elif [ "$rc" -ne 0 ]; then echo "CRASH(rc=$rc)"
  else echo "ok"
  fi
}

status=0
SUMMARY=()
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "fuzz/corpus/$t"
  log="build-fuzz/$t.log"
  echo "== $t for ${SECONDS_EACH}s"
  started=$(date +%s)
  rc=0
  # Inputs that once failed but are too big to seed mutation with (they would raise
  # libFuzzer's max_len for the whole run) are replayed once instead.
  regressions=(fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    "build-fuzz/fuzz/$t" -rss_limit_mb=2048 -timeout=10 "${regressions[@]}" 2>"build-fuzz/$t.regressions.log" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    cp "build-fuzz/$t.regressions.log" "$log"  # a regression is back: no point fuzzing
  else
    "build-fuzz/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="build-fuzz/crashes/$t-" -print_final_stats=1 \
        "build-fuzz/corpus/$t" "fuzz/corpus/$t" 2>"$log" || rc=$?
  fi
  elapsed=$(( $(date +%s) - started ))
  result=$(result_of "$log" "$rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  # The last status line's "corp: N/SIZE" is the in-memory corpus at the end.
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
  if [ "$result" != ok ]; then
    echo "!! $t: $result: see $log and build-fuzz/crashes/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|artifact_prefix|Test unit written)' "$log" | head -5 | sed 's/^/   /'
    status=1
  fi
  SUMMARY+=("$(printf '%-20s %12s %8s %14s %10s  %s' "$t" "${execs:-?}" "${elapsed}" "${corpus:-?}" "${rss:-?}" "$result")")
done

echo
printf '%-20s %12s %8s %14s %10s  %s\n' target execs seconds "corpus(n/B)" "peak_rss_mb" result
for line in "${SUMMARY[@]}"; do echo "$line"; done
exit $status
