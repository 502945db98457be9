#!/usr/bin/env bash
# Peak RSS per rank of a resume against a training step, at (1,4,1) by default,
# on the layout benchmark's model (run.sh: configs/r8_gat.yaml widened to a
# 512-d embedding, 6 GAT blocks of 8 x 64, head MLP 512, on Ohsumed):
#
#   benchmarks/layouts/resume_rss.sh [--layout 1,4,1] [--steps 4] [--rounds 3] [-- --set key=value ...]
#
# 1. `autoglm train` at the layout writes a checkpoint (train.max_steps=2);
# 2. per round, two MPI jobs of resume_rss_bench that build the same trainer:
#    "train" runs --steps steps, "resume" restores that checkpoint; each prints
#    every rank's peak RSS (getrusage) and the median over ranks.
# Prints one line per job and the ratio resume / train of the medians (median
# over rounds). Environment: BUILD_DIR (build), OUT_DIR (bench-out/resume-rss), DATA_DIR, NO_BUILD=1
# (use the binaries in BUILD_DIR as they are).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/resume-rss}"
DATA_DIR="${DATA_DIR:-../shared/data/ohsumed}"
LAYOUT=1,4,1 STEPS=4 ROUNDS=3
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --layout) LAYOUT=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "resume_rss.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
IFS=, read -r DP TP PP <<<"$LAYOUT"
N=$((DP * TP * PP))
MPIRUN=(mpirun --oversubscribe -x OMP_NUM_THREADS=1 -np "$N")
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
[[ -n "${NO_BUILD:-}" ]] || cmake --build "$BUILD_DIR" -j2 --target autoglm resume_rss_bench >/dev/null
MODEL=(--set data.dir="$DATA_DIR" --set data.cache_dir="$OUT_DIR/cache" --set model.embed_dim=512
       --set model.layers=6 --set model.heads=8 --set model.head_dim=64 --set model.head_hidden=512
       --set model.embed_init=random --set train.batch_graphs=32 --set parallel.bucket_mb=4
       --set parallel.dp="$DP" --set parallel.tp="$TP" --set parallel.pp="$PP" "${EXTRA[@]}")
RUN="$OUT_DIR/run"
rm -rf "$RUN"
mkdir -p "$OUT_DIR"
"${MPIRUN[@]}" "$BUILD_DIR/launch/autoglm" train --config configs/r8_gat.yaml "${MODEL[@]}" \
  --set run.out_dir="$RUN" --set train.max_steps=2 --set train.progress=off >"$OUT_DIR/train.log" 2>&1
RESULTS="$OUT_DIR/results.jsonl"
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
  for mode in train resume; do
    "${MPIRUN[@]}" "$BUILD_DIR/benchmarks/resume_rss_bench" --config configs/r8_gat.yaml --layout "$LAYOUT" \
      --mode "$mode" --out "$RUN" --steps "$STEPS" "${MODEL[@]}" 2>>"$OUT_DIR/stderr.log" | grep '^{' | tee -a "$RESULTS"
  done
done
/usr/bin/python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {m: statistics.median(r["median_peak_rss_mib"] for r in rows if r["mode"] == m) for m in ("train", "resume")}
print(f"layout ({rows[0]['layout']}): peak RSS per rank, median over ranks, median of {len(rows)//2} rounds: "
      f"training step {med['train']:.1f} MiB, resume {med['resume']:.1f} MiB, resume/train {med['resume']/med['train']:.3f}")
PY
