#!/usr/bin/env bash
# Quick start: install what is missing, build, train the default config on the
# bundled R8 data and print the test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh autoglm
exec "${BUILD_DIR:-build}/launch/autoglm" train --config "${1:-configs/r8_gat.yaml}"
