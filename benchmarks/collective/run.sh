#!/usr/bin/env bash
# All-reduce benchmark at 2 and 4 ranks: ours vs MPI_Allreduce.
# Writes OUT/allreduce_np{2,4}.csv and OUT/allreduce.png, prints the tables.
#
#   benchmarks/collective/run.sh [BUILD_DIR] [OUT_DIR] [extra collective_bench args...]
#   e.g. benchmarks/collective/run.sh build-comm bench-out --no-shm --algorithm ring
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build-comm}"
out="${2:-$root/bench-out/collective}"
shift $(( $# >= 2 ? 2 : $# )) || true
bin="$build/benchmarks/collective/collective_bench"
[[ -x "$bin" ]] || { echo "missing $bin: cmake --build $build --target collective_bench" >&2; exit 1; }
mkdir -p "$out"
# Numbers are only meaningful on a quiet machine: the load is printed with each run.
for np in 2 4; do
  echo "== $np ranks, $(date -u +%FT%TZ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  OMP_NUM_THREADS=1 mpirun -n "$np" --oversubscribe --allow-run-as-root "$bin" --csv "$out/allreduce_np$np.csv" "$@"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
py=""
for candidate in python3 /usr/bin/python3; do  # Debian's python3-matplotlib is for /usr/bin/python3
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import matplotlib' 2>/dev/null; then py="$candidate"; break; fi
done
if [[ -n "$py" ]]; then
  "$py" "$here/plot.py" "$out/allreduce.png" "$out"/allreduce_np2.csv "$out"/allreduce_np4.csv
  echo "plot: $out/allreduce.png"
else
  echo "matplotlib missing: install with 'apt-get install -y python3-matplotlib', then run" >&2
  echo "  /usr/bin/python3 $here/plot.py $out/allreduce.png $out/allreduce_np2.csv $out/allreduce_np4.csv" >&2
fi
