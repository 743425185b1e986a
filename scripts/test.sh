#!/usr/bin/env bash
# Builds everything and runs the whole test suite (Catch2 suites + chart scripts) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR="${CMOP_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600
