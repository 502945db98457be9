#!/usr/bin/env bash
# Configures (once) and builds into ${BUILD_DIR:-build}. Extra arguments are make targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# Paths under the checkout are hashed relative to it, so clones share ccache hits.
export CCACHE_BASEDIR="$PWD"
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" ${1:+--target "$@"}
