#!/usr/bin/env bash
# Early exit: test accuracy against the GAT blocks computed, per exit threshold.
#
#   benchmarks/early_exit/run.sh [--datasets r8,ohsumed] [--seeds 1,2,3]
#                                [--thresholds 1.0,0.9,...] [-- --set key=value ...]
#   benchmarks/early_exit/run.sh --report     # the table and chart again from early_exit.csv
#
# For each dataset and seed it trains two models with $CONFIG (default
# configs/r8_gat.yaml; the table of 2026-12-02 used the then default, now
# configs/r8_ppmi.yaml; data.dir pointed at the dataset): the plain one and one with
# model.early_exit (an exit head after every block but the last, trained
# jointly), then evaluates the early-exit model on the test split at each
# threshold (`autoglm eval --set infer.exit_threshold=T`). Threshold 1.0 runs
# every block. Model selection is the config's: the epoch of best validation
# accuracy; the test split is never used for it.
# Environment: BUILD_DIR (build), OUT_DIR (bench-out/early_exit), SHARED_DATA
# (../shared/data), AUTOGLM (the binary; default a copy of BUILD_DIR's, so
# rebuilding during a run does not change it).
# Results: OUT_DIR/early_exit.csv (one row per evaluation), early_exit.md,
# early_exit.png (report.py), logs/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/early_exit}"
SHARED_DATA="${SHARED_DATA:-../shared/data}"
CONFIG="${CONFIG:-configs/r8_gat.yaml}"
DATASETS=r8,ohsumed
SEEDS=1,2,3
THRESHOLDS=1.0,0.95,0.9,0.85,0.8,0.75,0.7,0.65,0.6,0.5
REPORT_ONLY=0
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --datasets) DATASETS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --thresholds) THRESHOLDS=$2; shift 2 ;;
    --report) REPORT_ONLY=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "early_exit/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR/logs"
CSV="$OUT_DIR/early_exit.csv"

data_dir() {
  if [[ $1 == r8 ]]; then echo data/r8; return; fi
  [[ -f $SHARED_DATA/$1/corpus.clean.txt ]] || { echo "early_exit/run.sh: no $SHARED_DATA/$1/corpus.clean.txt" >&2; exit 1; }
  echo "$SHARED_DATA/$1"
}

# train NAME DATASET SEED ARGS...: trains into OUT_DIR/runs/NAME, prints "accuracy seconds".
train() {
  local name=$1 ds=$2 seed=$3; shift 3
  local log="$OUT_DIR/logs/$name.log"
  "$AUTOGLM" train "$CONFIG" --set data.dir="$(data_dir "$ds")" --set run.seed="$seed" \
    --set run.out_dir="$OUT_DIR/runs/$name" --set train.progress=off --overwrite "$@" "${EXTRA[@]}" >"$log" 2>&1 ||
    { echo "early_exit/run.sh: training $name failed; see $log" >&2; tail -3 "$log" >&2; exit 1; }
  grep '^test accuracy:' "$log" | sed -E 's/test accuracy: ([0-9.]+) \(best epoch [0-9]+, ([0-9.]+)s\)/\1 \2/'
}

# evaluate NAME THRESHOLD: "accuracy mean_blocks node_block_fraction seconds".
evaluate() {
  "$AUTOGLM" eval --checkpoint "$OUT_DIR/runs/$1" --set infer.exit_threshold="$2" |
    sed -E 's/.*test accuracy ([0-9.]+), .* in ([0-9.]+)s; .*mean blocks ([0-9.]+) of [0-9]+, node-block work ([0-9.]+)/\1 \3 \4 \2/'
}

if ((!REPORT_ONLY)); then
  if [[ -z ${AUTOGLM:-} ]]; then
    cmake --build "$BUILD_DIR" -j2 --target autoglm >/dev/null
    AUTOGLM="$OUT_DIR/autoglm"
    cp "$BUILD_DIR/launch/autoglm" "$AUTOGLM"
  fi
  echo "dataset,seed,model,threshold,test_accuracy,mean_blocks,node_block_fraction,eval_seconds,train_seconds" >"$CSV"
  for ds in ${DATASETS//,/ }; do
    for seed in ${SEEDS//,/ }; do
      echo "early_exit/run.sh: $ds seed $seed: plain model ..." >&2
      read -r acc secs < <(train "$ds-plain-s$seed" "$ds" "$seed")
      echo "$ds,$seed,plain,1.0,$acc,,,,$secs" | tee -a "$CSV"
      echo "early_exit/run.sh: $ds seed $seed: early-exit model ..." >&2
      read -r _ secs < <(train "$ds-exit-s$seed" "$ds" "$seed" --set model.early_exit=true)
      for t in ${THRESHOLDS//,/ }; do
        read -r acc blocks work esecs < <(evaluate "$ds-exit-s$seed" "$t")
        echo "$ds,$seed,exit,$t,$acc,$blocks,$work,$esecs,$secs" | tee -a "$CSV"
      done
    done
  done
fi
/usr/bin/python3 "$ROOT/benchmarks/early_exit/report.py" "$CSV" "$OUT_DIR"
