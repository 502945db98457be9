#!/usr/bin/env bash
# The cost of growth: one process's step time and peak memory as one size of a
# generated corpus or model grows, the others held at configs/synthetic_gat.yaml's
# values (2,000 documents of ~40 nodes, 4 edges per node, vocabulary 20,000,
# embed_dim 64, 64 graphs per step). Each point is `autoglm simulate --profile`
# (median of --steps timed steps after 3 warm-up steps, one intra-op thread);
# growth.py fits step ~ size^k on each series and writes growth.{csv,md,png}.
#
#   benchmarks/scaling/growth.sh [--steps 10] [--only nodes|edges|batch|width|vocab]
# Environment: BUILD_DIR (default build), OUT_DIR (default
#   benchmarks/scaling/results/growth), PYTHON (default /usr/bin/python3).
# Resumable: a point whose workload file exists is not measured again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
STEPS=10
ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) STEPS="${2:?}"; shift 2 ;;
    --only) ONLY="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "growth.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-benchmarks/scaling/results/growth}"
PYTHON="${PYTHON:-/usr/bin/python3}"
AUTOGLM="$BUILD_DIR/launch/autoglm"
[[ -x "$AUTOGLM" ]] || { echo "growth.sh: $AUTOGLM not built (scripts/build.sh)" >&2; exit 1; }
mkdir -p "$OUT_DIR/logs"
BASE=(--set data.synthetic.documents=2000 --set data.cache_dir="$OUT_DIR/cache" --set run.threads=1)

point() {  # series value overrides...
  local series=$1 value=$2; shift 2
  [[ -n "$ONLY" && "$ONLY" != "$series" ]] && return 0
  local w="$OUT_DIR/${series}_$value.yaml"
  [[ -s "$w" ]] && return 0
  echo "growth.sh: $series = $value" >&2
  OMP_NUM_THREADS=1 "$AUTOGLM" simulate --profile configs/synthetic_gat.yaml --steps "$STEPS" --out "$w" \
    "${BASE[@]}" "$@" > "$OUT_DIR/logs/${series}_$value.log" 2>&1 ||
    { tail -n 5 "$OUT_DIR/logs/${series}_$value.log" >&2; rm -f "$w"; exit 1; }
  tail -n 1 "$OUT_DIR/logs/${series}_$value.log" >&2
}

for n in 10 20 40 80 160; do
  point nodes "$n" --set data.synthetic.nodes_mean="$n" --set data.synthetic.nodes_max=$((n * 5)) --set data.synthetic.nodes_sigma=0.1
done
for e in 2 4 8 16; do
  point edges "$e" --set data.synthetic.edges_per_node="$e" --set data.synthetic.max_degree=$((e * 4)) \
    --set data.synthetic.window=$((e * 2))
done
for b in 16 32 64 128 256; do
  point batch "$b" --set train.batch_graphs="$b"
done
for d in 32 64 128 256 512; do
  point width "$d" --set model.embed_dim="$d" --set model.head_hidden="$d"
done
for v in 10000 30000 100000 300000 1000000; do
  point vocab "$v" --set data.synthetic.vocab="$v"
done
find "$OUT_DIR/cache" -name '*.graphs' -delete 2> /dev/null || true
"$PYTHON" "$ROOT/benchmarks/scaling/growth.py" "$OUT_DIR"
