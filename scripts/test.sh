#!/usr/bin/env bash
# Install what is missing, build everything and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --bench  # the bench_smoke tests run the benchmarks' PyTorch references
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
