#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan into build-fuzz/ and runs
# each for SECONDS (default 60) from its seed corpus in fuzz/corpus/<target>/.
# New interesting inputs go to build-fuzz/corpus/<target>/; crashes to build-fuzz/crashes/.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
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
mkdir -p build-fuzz/crashes
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "fuzz/corpus/$t"
  echo "== $t for ${SECONDS_EACH}s"
  if ! "build-fuzz/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="build-fuzz/crashes/$t-" -print_final_stats=1 \
      "build-fuzz/corpus/$t" "fuzz/corpus/$t" 2>"build-fuzz/$t.log"; then
    echo "!! $t found a failure: see build-fuzz/$t.log and build-fuzz/crashes/"
    status=1
  fi
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "build-fuzz/$t.log" | sed "s/^/   /"
done
exit $status
