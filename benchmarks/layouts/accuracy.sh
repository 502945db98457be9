#!/usr/bin/env bash
# R8 test accuracy per layout at one global batch, several seeds:
#
#   benchmarks/layouts/accuracy.sh [--seeds 1,2,3] [-- --set key=value ...]
#   benchmarks/layouts/accuracy.sh --report      # the table again from accuracy.csv
#
# Layouts (dp,tp,pp): (2,1,1) the data-parallel baseline, (2,2,1), (1,2,2) and
# (2,1,2); per-rank batch = 128 / dp, so every layout trains on global batches
# of 128 graphs (configs/r8_gat.yaml's 64 per rank at dp = 2). Each run is the
# default config, trained to its end (early stopping as configured).
# Environment: BUILD_DIR (build), OUT_DIR (bench-out/layouts), NO_BUILD=1 (use the binaries in
# BUILD_DIR as they are).
# Results: OUT_DIR/accuracy.csv (one row per run), accuracy.md (mean +- std per
# layout and the difference from dp only), logs/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/layouts}"
MPIRUN=(mpirun --oversubscribe -x OMP_NUM_THREADS=1)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
SEEDS=1,2,3
REPORT_ONLY=0
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seeds) SEEDS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    --report) REPORT_ONLY=1; shift ;;
    *) echo "accuracy.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR/logs"
CSV="$OUT_DIR/accuracy.csv"
if ((!REPORT_ONLY)); then
[[ -n "${NO_BUILD:-}" ]] || cmake --build "$BUILD_DIR" -j2 --target autoglm >/dev/null
echo "layout,dp,tp,pp,seed,test_accuracy,best_epoch,seconds" >"$CSV"
for seed in ${SEEDS//,/ }; do
  for layout in 2,1,1 2,2,1 1,2,2 2,1,2; do
    IFS=, read -r dp tp pp <<<"$layout"
    n=$((dp * tp * pp))
    name="dp${dp}tp${tp}pp${pp}-s${seed}"
    log="$OUT_DIR/logs/$name.log"
    echo "accuracy.sh: ($layout) seed $seed ..." >&2
    "${MPIRUN[@]}" -np "$n" "$BUILD_DIR/launch/autoglm" train configs/r8_gat.yaml \
      --set run.seed="$seed" --set run.threads=1 --set run.out_dir="$OUT_DIR/runs/$name" \
      --set train.progress=off --set parallel.dp="$dp" --set parallel.tp="$tp" --set parallel.pp="$pp" \
      --set train.batch_graphs=$((128 / dp)) --overwrite "${EXTRA[@]}" >"$log" 2>&1
    line=$(grep '^test accuracy:' "$log")  # test accuracy: 0.9680 (best epoch 12, 95.1s)
    acc=$(sed -E 's/test accuracy: ([0-9.]+).*/\1/' <<<"$line")
    epoch=$(sed -E 's/.*best epoch ([0-9]+).*/\1/' <<<"$line")
    secs=$(sed -E 's/.*, ([0-9.]+)s\)/\1/' <<<"$line")
    echo "\"($layout)\",$dp,$tp,$pp,$seed,$acc,$epoch,$secs" | tee -a "$CSV"
  done
done
fi
/usr/bin/python3 - "$CSV" >"$OUT_DIR/accuracy.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault(r["layout"], []).append(float(r["test_accuracy"]) * 100)
base = statistics.mean(by["(2,1,1)"])
print("| layout (dp,tp,pp) | seeds | test accuracy % (mean +- std) | vs dp only (points) | runs |")
print("|---|---|---|---|---|")
for layout, accs in by.items():
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"| {layout} | {len(accs)} | {statistics.mean(accs):.2f} +- {sd:.2f} | {statistics.mean(accs) - base:+.2f} | "
          + ", ".join(f"{a:.2f}" for a in accs) + " |")
PY
cat "$OUT_DIR/accuracy.md"
