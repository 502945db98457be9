#!/usr/bin/env bash
# Training throughput with Debian's reference BLAS against OpenBLAS (OpenMP
# build), in one run, alternating R times. LibTorch links libblas.so.3; the
# library directory put first on LD_LIBRARY_PATH decides which one is loaded.
#   benchmarks/blas.sh [--repeats R] [--steps N] [extra train_throughput args]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
repeats=3 steps=40
args=()
while (($#)); do
  case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
bin="$BUILD_DIR/benchmarks/train_throughput"
[[ -x "$bin" ]] || { echo "blas.sh: $bin missing; run scripts/build.sh train_throughput" >&2; exit 1; }
libdir=/usr/lib/x86_64-linux-gnu
ref="$libdir/blas:$libdir/lapack" open="$libdir/openblas-openmp"
[[ -f "$libdir/blas/libblas.so.3" ]] || { echo "blas.sh: reference BLAS ($ref) not installed: apt-get install libblas3" >&2; exit 1; }
[[ -f "$open/libblas.so.3" ]] || { echo "blas.sh: OpenBLAS ($open) not installed: apt-get install libopenblas0-openmp" >&2; exit 1; }

declare -A results
for ((r = 1; r <= repeats; r++)); do
  for name in reference openblas; do
    dir=$ref; [[ $name == openblas ]] && dir=$open
    gps=$(LD_LIBRARY_PATH="$dir" "$bin" --steps "$steps" "${args[@]}" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["graphs_per_s"])')
    results[$name]+="$gps "
    echo "run $r $name: $gps graphs/s" >&2
  done
done
python3 - "${results[reference]}" "${results[openblas]}" <<'PY'
import statistics, sys
ref = [float(x) for x in sys.argv[1].split()]
opb = [float(x) for x in sys.argv[2].split()]
print(f"{'BLAS':<12}{'median graphs/s':>16}{'min':>10}{'max':>10}")
for name, v in (("reference", ref), ("openblas", opb)):
    print(f"{name:<12}{statistics.median(v):>16.1f}{min(v):>10.1f}{max(v):>10.1f}")
print(f"openblas / reference: {statistics.median(opb) / statistics.median(ref):.2f}x")
PY
