#!/usr/bin/env bash
# Model quality against published results: every row of benchmarks/quality/rows.txt
# (a shipped config, optionally with overrides) at 3 seeds; mean +- std of test
# accuracy and the wall time per run, next to TextGCN and TextING, as Markdown,
# CSV and a PNG chart (benchmarks/quality/report.py).
#   benchmarks/quality.sh                       every row, seeds 1,2,3
#   benchmarks/quality.sh --rows r8,r8_syntax   the rows whose name is listed
#   benchmarks/quality.sh --group compression   the rows of one group
#   benchmarks/quality.sh --seeds 1,2 --report  re-draw the report from the CSV
#   benchmarks/quality.sh --rows r8_cooccurrence -- --set train.epochs=1   overrides after each row's own
# Datasets other than R8 are read from $SHARED_DATA (default ../shared/data).
# Output: $OUT_DIR (default bench-out/quality): quality.csv, quality.md, quality.png, logs/.
# In a row's overrides, {seed} stands for the seed and {runs} for $OUT_DIR/runs
# (an ensemble row names the run of another row at the same seed).
# A row that is already in the CSV with the same seed is not run again (resume
# after an interruption); --fresh starts the CSV anew.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/quality}"
SHARED_DATA="${SHARED_DATA:-../shared/data}"
ROWS_FILE="$ROOT/benchmarks/quality/rows.txt"
ROWS="" GROUP="" SEEDS=1,2,3 REPORT_ONLY=0 FRESH=0
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --group) GROUP=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --report) REPORT_ONLY=1; shift ;;
    --fresh) FRESH=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "quality.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR/logs"
CSV="$OUT_DIR/quality.csv"
die() { echo "quality.sh: $*" >&2; exit 1; }

run_row() {  # name group dataset ranks config overrides...
  local name=$1 group=$2 ds=$3 ranks=$4 config=$5 seed=$6; shift 6
  local data=data/r8
  if [[ $ds != r8 ]]; then
    data="$SHARED_DATA/$ds"
    [[ -d $data ]] || die "row $name: dataset directory $data not found (set SHARED_DATA)"
  fi
  local log="$OUT_DIR/logs/$name-s$seed.log" cmd=("$AUTOGLM") args=("${@//\{seed\}/$seed}")
  args=("${args[@]//\{runs\}/$OUT_DIR/runs}")
  ((ranks > 1)) && cmd=(mpirun --oversubscribe --allow-run-as-root -np "$ranks" -x OMP_NUM_THREADS=1 "$AUTOGLM")
  local t0 t1
  t0=$(date +%s.%N)
  # stdin from /dev/null: mpirun would otherwise read the rest of the rows file.
  "${cmd[@]}" train "$config" --set data.dir="$data" --set run.seed="$seed" \
    --set run.out_dir="$OUT_DIR/runs/$name-s$seed" --set train.progress=off --overwrite "${args[@]}" "${EXTRA[@]}" </dev/null >"$log" 2>&1 ||
    { tail -5 "$log" >&2; die "row $name seed $seed failed; see $log"; }
  t1=$(date +%s.%N)
  local line acc epoch
  line=$(grep '^test accuracy:' "$log" | tail -1) || die "row $name seed $seed: no test accuracy in $log"
  acc=$(sed -E 's/^test accuracy: ([0-9.]+).*/\1/' <<<"$line")
  epoch=$(sed -E 's/.*best epoch ([0-9]+).*/\1/' <<<"$line")
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "$name,$group,$ds,$seed,$acc,$epoch,$wall" | tee -a "$CSV"
}

if ((!REPORT_ONLY)); then
  if [[ -z ${AUTOGLM:-} ]]; then
    cmake --build "$BUILD_DIR" -j2 --target autoglm >/dev/null
    AUTOGLM="$OUT_DIR/autoglm"
    cp "$BUILD_DIR/launch/autoglm" "$AUTOGLM"
  fi
  if ((FRESH)) || [[ ! -f $CSV ]]; then echo "row,group,dataset,seed,test_accuracy,best_epoch,wall_seconds" >"$CSV"; fi
  while read -r name group ds ranks config overrides; do
    [[ -z $name || $name == \#* ]] && continue
    [[ -n $ROWS && ",$ROWS," != *",$name,"* ]] && continue
    [[ -n $GROUP && $GROUP != "$group" ]] && continue
    for seed in ${SEEDS//,/ }; do
      grep -q "^$name,[^,]*,[^,]*,$seed," "$CSV" && continue
      echo "quality.sh: $name seed $seed ..." >&2
      # shellcheck disable=SC2086  # overrides are --set words
      run_row "$name" "$group" "$ds" "$ranks" "$config" "$seed" $overrides
    done
  done <"$ROWS_FILE"
fi
/usr/bin/python3 "$ROOT/benchmarks/quality/report.py" "$CSV" "$OUT_DIR"
