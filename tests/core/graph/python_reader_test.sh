#!/usr/bin/env bash
# The Python reader the PyTorch reference benchmarks use
# (benchmarks/reference/graph_cache.py) opens and validates a cache that this
# build writes, and reports the same counts: the reference benchmarks cannot
# fall behind the cache format unnoticed (they did once: format 2 stopped them).
#   python_reader_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/autoglm_python_reader.XXXXXX)
trap 'rm -rf "$work"' EXIT
cache=$("$build/launch/autoglm" prepare "$src/configs/r8_gat.yaml" --set data.dir="$src/data/r8" \
  --set vocab.vectors="$src/data/r8/vectors.agvec" \
  --set data.cache_dir="$work" 2>/dev/null | tail -1)
[[ -f "$cache" ]] || { echo "python_reader_test: autoglm prepare printed no cache path" >&2; exit 1; }
out=$(/usr/bin/python3 "$src/benchmarks/reference/graph_cache.py" "$cache")
echo "$out"
# R8 as bundled: 7674 documents (5485 train, 2189 test), 8 classes.
[[ "$out" == *"graphs 7674 (train 5485, test 2189)"* && "$out" == *"classes 8:"* ]] ||
  { echo "python_reader_test: the Python reader's counts differ from R8's" >&2; exit 1; }
