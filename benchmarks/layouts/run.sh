#!/usr/bin/env bash
# Tensor and pipeline parallel layouts, measured side by side:
#
#   benchmarks/layouts/run.sh table  [--ranks 4] [--rounds 3] [--steps 6] [--layouts "4,1,1 1,1,4"] [-- --set key=value ...]
#       every layout dp x tp x pp of --ranks ranks (tp and pp up to 4): step
#       time, graphs/s, parameter+gradient+Adam bytes and peak RSS per rank,
#       bytes per rank per step by group. One MPI job per layout and round
#       (peak RSS is the layout's own), layouts round-robin over --rounds so
#       that noise on a shared machine hits all alike; medians and spread.
#   benchmarks/layouts/run.sh bubble [--ranks 4] [--micro 8] [--rounds 3] [-- --set ...]
#       pp = --ranks, each schedule (gpipe, 1f1b, zb-h1): each stage's idle
#       fraction from its own clocks, beside (p-1)/(m+p-1).
#
# Default model: configs/r8_gat.yaml widened and deepened to be worth splitting
# (512-d embedding, 6 GAT blocks of 8 x 64, head MLP 512) on Ohsumed
# (../shared/data/ohsumed: its vocabulary; DATA_DIR overrides), dropout as configured.
# Environment: BUILD_DIR (build), OUT_DIR (bench-out/layouts), DATA_DIR, NO_BUILD=1 (use the
# binaries in BUILD_DIR as they are).
# Results: OUT_DIR/{table,bubble}-np<N>.{jsonl,csv,md,png}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/layouts}"
DATA_DIR="${DATA_DIR:-../shared/data/ohsumed}"
PYTHON="${PYTHON:-/usr/bin/python3}"
MPIRUN=(mpirun --oversubscribe -x OMP_NUM_THREADS=1)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
die() { echo "layouts/run.sh: error: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: run.sh table|bubble [options] [-- --set key=value ...]"
WHAT=$1; shift
RANKS=4 ROUNDS=3 STEPS=6 MICRO=8 LAYOUTS=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --micro) MICRO=$2; shift 2 ;;
    --layouts) LAYOUTS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done
[[ -f "$DATA_DIR/labels.txt" ]] || die "no dataset at DATA_DIR=$DATA_DIR"
mkdir -p "$OUT_DIR"
[[ -n "${NO_BUILD:-}" ]] ||
  cmake --build "$BUILD_DIR" -j2 --target layout_step_bench >/dev/null || die "build failed in $BUILD_DIR"
MODEL=(--set data.dir="$DATA_DIR" --set data.cache_dir="$OUT_DIR/cache" --set model.embed_dim=512
       --set model.layers=6 --set model.heads=8 --set model.head_dim=64 --set model.head_hidden=512
       --set model.embed_init=random --set train.batch_graphs=32 --set parallel.bucket_mb=4)

run_one() {  # layout schedule micro
  "${MPIRUN[@]}" -np "$RANKS" "$BUILD_DIR/benchmarks/layout_step_bench" --config configs/r8_gat.yaml \
    --layout "$1" ${2:+--schedule "$2"} --steps "$STEPS" --warmup-steps 2 \
    "${MODEL[@]}" --set parallel.pipeline.micro_batches="$3" "${EXTRA[@]}" 2>>"$OUT_DIR/stderr.log" | grep '^{'
}

case $WHAT in
  table)
    layouts=()
    for dp in 1 2 4 8; do for tp in 1 2 4; do for pp in 1 2 4; do
      ((dp * tp * pp == RANKS)) && layouts+=("$dp,$tp,$pp")
    done; done; done
    [[ -n "$LAYOUTS" ]] && read -r -a layouts <<<"$LAYOUTS"
    out="$OUT_DIR/table-np$RANKS.jsonl"
    : >"$out"
    for ((r = 0; r < ROUNDS; r++)); do
      for l in "${layouts[@]}"; do
        echo "layouts/run.sh: round $((r + 1))/$ROUNDS layout ($l)" >&2
        run_one "$l" 1f1b 4 | tee -a "$out"
      done
    done
    "$PYTHON" benchmarks/layouts/report.py table "$out"
    ;;
  bubble)
    out="$OUT_DIR/bubble-np$RANKS.jsonl"
    : >"$out"
    for ((r = 0; r < ROUNDS; r++)); do
      for s in gpipe 1f1b zb-h1; do
        echo "layouts/run.sh: round $((r + 1))/$ROUNDS schedule $s" >&2
        run_one "1,1,$RANKS" "$s" "$MICRO" | tee -a "$out"
      done
    done
    "$PYTHON" benchmarks/layouts/report.py bubble "$out"
    ;;
  *) die "unknown benchmark $WHAT (table or bubble)" ;;
esac
