#!/usr/bin/env bash
# Data-parallel benchmarks, measured side by side in one run.
#
#   benchmarks/dp_bench.sh overlap  [--ranks N] [--steps S] [--rounds R] [-- --set key=value ...]
#       step time per compressor with the reducer overlapping backward, with all
#       communication after backward and with none; fraction of communication
#       hidden; bytes per rank per step (dp_step_bench + dp_report.py).
#       Default model: configs/r8_gat.yaml with a wider encoder (3 GAT layers of
#       8 x 64) and 1 MiB buckets, so that several buckets exist to overlap.
#   benchmarks/dp_bench.sh accuracy [--ranks N] [--compressors none,onebit,topk] [-- --set ...]
#       full R8 training per compressor at N ranks (per-rank batch = the
#       config's batch / N, so the global batch equals one process's), test
#       accuracy side by side (target: compressed within 0.5 points of none).
#
# Environment: BUILD_DIR (default build), OUT_DIR (default bench-out/dp), NO_BUILD=1
# (use the binaries in BUILD_DIR as they are).
# Results: OUT_DIR/overlap.{jsonl,csv,png}, OUT_DIR/accuracy.csv and logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/dp}"
PYTHON="${PYTHON:-/usr/bin/python3}"
MPIRUN=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)

die() { echo "dp_bench.sh: error: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: dp_bench.sh overlap|accuracy [options] [-- --set key=value ...]"
WHAT=$1
shift
RANKS=2
STEPS=20
ROUNDS=3
COMPRESSORS=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --compressors) COMPRESSORS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done
mkdir -p "$OUT_DIR/logs"

load1() { cut -d' ' -f1 /proc/loadavg; }
warn_if_busy() {
  local l
  l=$(load1)
  if awk -v l="$l" 'BEGIN { exit !(l > 1.0) }'; then
    echo "dp_bench.sh: warning: 1-minute load is $l; figures from a busy machine are noisy" >&2
  fi
}

[[ -n "${NO_BUILD:-}" ]] ||
  cmake --build "$BUILD_DIR" -j2 --target autoglm dp_step_bench >/dev/null || die "build failed in $BUILD_DIR"

case $WHAT in
  overlap)
    COMPRESSORS=${COMPRESSORS:-none,fp16,bf16,onebit,topk}
    warn_if_busy
    echo "overlap: $RANKS ranks, $STEPS timed steps x $ROUNDS rounds, compressors $COMPRESSORS (load $(load1))"
    "${MPIRUN[@]}" -np "$RANKS" -x OMP_NUM_THREADS=1 "$BUILD_DIR/benchmarks/dp_step_bench" \
      --config configs/r8_gat.yaml --compressors "$COMPRESSORS" --modes overlap,after_backward,off \
      --steps "$STEPS" --rounds "$ROUNDS" \
      --set model.embed_init=random --set model.layers=3 --set model.heads=8 --set model.head_dim=64 \
      --set parallel.bucket_mb=1 --set parallel.compression.warmup_steps=0 \
      "${EXTRA[@]}" | tee "$OUT_DIR/overlap.jsonl"
    "$PYTHON" benchmarks/dp_report.py overlap "$OUT_DIR" "$OUT_DIR/overlap.jsonl"
    ;;
  accuracy)
    COMPRESSORS=${COMPRESSORS:-none,onebit,topk}
    BATCH=$(sed -n 's/^ *batch_graphs: *\([0-9]*\).*/\1/p' configs/r8_gat.yaml | head -1)
    PER_RANK=$(( BATCH / RANKS ))
    echo "accuracy: R8, $RANKS ranks x batch $PER_RANK (global $((PER_RANK * RANKS))), compressors $COMPRESSORS"
    echo "compressor,ranks,test_accuracy,best_epoch,seconds,load1" > "$OUT_DIR/accuracy.csv"
    IFS=, read -ra LIST <<<"$COMPRESSORS"
    for c in "${LIST[@]}"; do
      log="$OUT_DIR/logs/accuracy-$c.log"
      l=$(load1)
      "${MPIRUN[@]}" -np "$RANKS" -x OMP_NUM_THREADS=1 "$BUILD_DIR/launch/autoglm" train configs/r8_gat.yaml \
        --set run.out_dir="$OUT_DIR/runs/$c" --set train.progress=off --set train.batch_graphs="$PER_RANK" \
        --set parallel.compression.type="$c" "${EXTRA[@]}" >"$log" 2>&1 || die "training with $c failed, see $log"
      line=$(grep '^test accuracy:' "$log" | tail -1)
      acc=$(sed 's/^test accuracy: \([0-9.]*\).*/\1/' <<<"$line")
      ep=$(sed 's/.*best epoch \([0-9]*\).*/\1/' <<<"$line")
      secs=$(sed 's/.*, \([0-9.]*\)s)$/\1/' <<<"$line")
      echo "$c,$RANKS,$acc,$ep,$secs,$l" >> "$OUT_DIR/accuracy.csv"
      printf '%-8s test accuracy %s (best epoch %s, %ss)\n' "$c" "$acc" "$ep" "$secs"
    done
    "$PYTHON" - "$OUT_DIR" <<'EOF'
import csv, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "accuracy.csv"))))
base = next((float(r["test_accuracy"]) for r in rows if r["compressor"] == "none"), None)
print(f"{'compressor':<11}{'test acc':>9}{'vs none (points)':>18}")
for r in rows:
    d = "" if base is None else f"{100 * (float(r['test_accuracy']) - base):+.2f}"
    print(f"{r['compressor']:<11}{float(r['test_accuracy']):>9.4f}{d:>18}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.bar([r["compressor"] for r in rows], [100 * float(r["test_accuracy"]) for r in rows])
    lo = min(100 * float(r["test_accuracy"]) for r in rows)
    ax.set_ylim(lo - 2, 100)
    ax.set_ylabel("R8 test accuracy (%)")
    ax.set_title(f"R8, {rows[0]['ranks']} ranks, per compressor")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy.png"), dpi=120)
    print(f"wrote {out}/accuracy.csv, {out}/accuracy.png")
except ImportError:
    pass
EOF
    ;;
  *) die "unknown benchmark '$WHAT' (overlap | accuracy)" ;;
esac
