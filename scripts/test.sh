#!/usr/bin/env bash
# Builds everything and runs the whole test suite (Catch2 suites + chart scripts) with ctest.
# Compiler warnings are errors here (CMOP_WERROR=OFF to build past one locally).
set -euo pipefail
cd "$(dirname "$0")/.."
CMOP_WERROR="${CMOP_WERROR:-ON}" bash scripts/build.sh
BUILD_DIR="${CMOP_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600
