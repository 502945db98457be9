#!/usr/bin/env bash
# Projections: this project's own models at 64, 256 and 1,024 data-parallel
# ranks, per compressor, on CPU clusters with 10, 25 and 100 Gbit/s between
# nodes (configs/clusters/cpu_*gbit.yaml). Each model's workload is measured
# on one process here (`autoglm simulate --profile`: parameters in the
# reducer's order, forward/backward/optimizer at the config's per-rank batch,
# each compressor's work per element); `autoglm simulate` replays the reducer's
# plan on the cluster. project.py writes projections.{csv,md,png}.
#
#   benchmarks/scaling/project.sh [--steps 20] [--ranks 1,64,256,1024]
# Models: R8 (configs/r8_gat.yaml), Ohsumed (configs/ohsumed_300d.yaml; needs
# ../shared/data/ohsumed or --set-ohsumed data.dir=...), and the 512-d layout
# model of benchmarks/layouts (Ohsumed, 512-d embedding, 6 GAT blocks of
# 8 x 64 heads, 32 graphs per rank, 4 MiB buckets), also with tp = 2 and 4
# inside each node.
# Environment: BUILD_DIR (default build), OUT_DIR (default
#   benchmarks/scaling/results/projections), PYTHON (default /usr/bin/python3).
# A workload file that exists is reused (delete it to measure again).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
STEPS=20
RANKS=1,64,256,1024
OHSUMED_DIR=../shared/data/ohsumed
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) STEPS="${2:?}"; shift 2 ;;
    --ranks) RANKS="${2:?}"; shift 2 ;;
    --ohsumed) OHSUMED_DIR="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "project.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-benchmarks/scaling/results/projections}"
PYTHON="${PYTHON:-/usr/bin/python3}"
AUTOGLM="$BUILD_DIR/launch/autoglm"
[[ -x "$AUTOGLM" ]] || { echo "project.sh: $AUTOGLM not built (scripts/build.sh)" >&2; exit 1; }
mkdir -p "$OUT_DIR/logs"
source "$ROOT/benchmarks/scaling/profile_median.sh"

profile() {  # name config overrides...
  local name=$1 config=$2; shift 2
  local w="$OUT_DIR/workload_$name.yaml"
  [[ -s "$w" ]] && return 0
  echo "project.sh: profiling $name (3 times; the run with the median step is kept)" >&2
  profile_median "$w" "$OUT_DIR/logs" "$AUTOGLM" "$config" --steps "$STEPS" --set run.threads=1 "$@" || exit 1
  sed -n 3p "$w" >&2
}
profile r8 configs/r8_gat.yaml
profile ohsumed configs/ohsumed_300d.yaml --set data.dir="$OHSUMED_DIR"
profile layout512 configs/r8_gat.yaml --set data.dir="$OHSUMED_DIR" --set model.embed_dim=512 --set model.layers=6 \
  --set model.heads=8 --set model.head_dim=64 --set model.head_hidden=512 --set model.embed_init=random \
  --set train.batch_graphs=32 --set parallel.bucket_mb=4

for w in r8 ohsumed layout512; do
  for g in 10 25 100; do
    "$AUTOGLM" simulate "$OUT_DIR/workload_$w.yaml" --cluster "configs/clusters/cpu_${g}gbit.yaml" --ranks "$RANKS" \
      --compressors none,fp16,onebit,topk --csv "$OUT_DIR/${w}_${g}gbit.csv" > "$OUT_DIR/logs/${w}_${g}gbit.md"
  done
done
# The 512-d model with tensor parallelism inside a node (tp = 2, 4), dp across.
for tp in 2 4; do
  for g in 10 25 100; do
    "$AUTOGLM" simulate "$OUT_DIR/workload_layout512.yaml" --cluster "configs/clusters/cpu_${g}gbit.yaml" \
      --ranks "$(echo "$RANKS" | sed "s/\b1,/$tp,/")" --set workload.tp=$tp --compressors none,fp16,onebit,topk \
      --csv "$OUT_DIR/layout512-tp${tp}_${g}gbit.csv" > "$OUT_DIR/logs/layout512-tp${tp}_${g}gbit.md"
  done
done
"$PYTHON" "$ROOT/benchmarks/scaling/project.py" "$OUT_DIR"
