#!/usr/bin/env bash
# Step time against the embedding table's size with the touched rows fixed
# (table_step.cc): dense, sparse and lazy train.embedding_update side by side,
# at 10 k, 100 k, 1 M and 10 M rows, medians of --rounds rounds with the spread.
#
# Usage: benchmarks/sparse_table/run.sh [table_step_bench options]
#   e.g. --rows 10000,1000000 --modes dense,lazy --steps 10 --rounds 3 --dim 32
# Environment:
#   BUILD_DIR  C++ build directory (default build)
#   NO_BUILD=1 use the binary in BUILD_DIR as it is
#   OUT_DIR    results (default bench-out/sparse_table): table_step.csv, one row
#              per (rows, mode) as it finishes; a rerun skips the rows already
#              there (delete the file to measure again)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/sparse_table}"
[[ -n "${NO_BUILD:-}" ]] || BUILD_DIR="$BUILD_DIR" scripts/build.sh table_step_bench >/dev/null
mkdir -p "$OUT_DIR"
exec "$BUILD_DIR/benchmarks/table_step_bench" --csv "$OUT_DIR/table_step.csv" "$@"
