#!/usr/bin/env bash
# Training triples per second of kg_completion beside the PyTorch reference
# (benchmarks/reference/kg_reference.py): the same model, batch, negatives and
# optimizer, on the same two cores, in turns (ours, reference, ours at dp=2,
# ...) REPEATS times; the median of each and the ratios. Two workloads:
#   complex  ComplEx-N3, 1-vs-all with reciprocal relations, d=256, batch 512,
#            Adagrad (the WN18RR config's model)
#   rotate   RotatE, 256 shared negatives, self-adversarial, d=500, batch 512,
#            Adam (the published WN18RR RotatE setting, fewer negatives)
# Steps 5.. of each run are timed (from the metrics file's per-step times;
# the reference's own step clock), so start-up and evaluation are left out.
#   benchmarks/kg/throughput.sh      # writes benchmarks/kg/results/throughput/
set -euo pipefail
cd "$(dirname "$0")/../.."
AUTOGLM=${AUTOGLM:-$PWD/build/launch/autoglm}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=${DATA:-../shared/data/wn18rr}
OUT=${OUT_DIR:-benchmarks/kg/results/throughput}
WORK=${WORK:-/tmp/autoglm_kg_throughput}
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-25}
WORKLOADS=${WORKLOADS:-"complex rotate"}
mkdir -p "$OUT" "$WORK"

ours_flags() {  # the workload as --set overrides
  case $1 in
    complex) echo "kg.score=complex kg.dim=256 kg.training=one_vs_all kg.reciprocal=true kg.batch=512 kg.n3=0.05
                   train.optimizer=adagrad train.lr=0.1" ;;
    rotate) echo "kg.score=rotate kg.dim=500 kg.gamma=6 kg.training=negative kg.reciprocal=false kg.batch=512
                  kg.negatives=256 kg.adversarial_temperature=0.5 kg.n3=0 train.optimizer=adam train.lr=5e-5
                  train.embedding_update=lazy" ;;
  esac
}
ref_flags() {
  case $1 in
    complex) echo "--score complex --dim 256 --training one_vs_all --reciprocal --batch 512 --n3 0.05
                   --optimizer adagrad --lr 0.1" ;;
    rotate) echo "--score rotate --dim 500 --gamma 6 --training negative --no-reciprocal --batch 512 --negatives 256
                  --adversarial-temperature 0.5 --optimizer adam --lr 5e-5 --sparse" ;;
  esac
}

cat > "$WORK/base.yaml" <<YAML
run: {name: kg_throughput, out_dir: $WORK/run, seed: 1, threads: 0}
model: {kind: kg_completion}
kg: {data_dir: $DATA, valid_max: 1, test_max: 1}
train: {weight_decay: 0, warmup_steps: 0, schedule: constant, grad_clip: 0, epochs: 1, max_steps: $STEPS,
        log_every: 1, progress: off, keep_checkpoints: 1}
YAML

ours() {  # ours WORKLOAD DP -> triples/s of steps 5..STEPS
  local sets=() s
  for s in $(ours_flags "$1"); do sets+=(--set "$s"); done
  rm -rf "$WORK/run"
  if [[ $2 == 1 ]]; then
    "$AUTOGLM" train "$WORK/base.yaml" "${sets[@]}" --overwrite > "$WORK/ours.log" 2>&1
  else
    mpirun -np "$2" --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 "$AUTOGLM" train "$WORK/base.yaml" \
      "${sets[@]}" --set parallel.dp="$2" --set run.threads=1 --overwrite > "$WORK/ours.log" 2>&1
  fi
  "$PYTHON" - "$WORK/run/metrics.jsonl" 512 <<'PY'
import json, sys
t = {j["step"]: j["time"] for j in map(json.loads, open(sys.argv[1])) if j.get("event") == "train"}
last = max(t)
print(f"{(last - 5) * int(sys.argv[2]) / (t[last] - t[5]):.1f}")
PY
}

reference() {  # reference WORKLOAD -> triples/s (its own step clock)
  # shellcheck disable=SC2046
  "$PYTHON" benchmarks/reference/kg_reference.py --data "$DATA" $(ref_flags "$1") --max-steps "$STEPS" \
    --threads 2 --eval-split none 2> "$WORK/ref.log" | "$PYTHON" -c \
    'import json,sys; print([json.loads(l) for l in sys.stdin if "triples_per_s" in l][-1]["triples_per_s"])'
}

csv=$OUT/throughput.csv
[[ -f $csv ]] || echo "workload,repeat,ours_1proc,ours_dp2,reference,ratio_1proc,ratio_dp2" > "$csv"
for w in $WORKLOADS; do
  for r in $(seq 1 "$REPEATS"); do
    a=$(ours "$w" 1); b=$(reference "$w"); c=$(ours "$w" 2)
    echo "$w,$r,$a,$c,$b,$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}'),$(awk -v a="$c" -v b="$b" 'BEGIN{printf "%.2f", a/b}')" \
      | tee -a "$csv"
  done
done
"$PYTHON" - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for w in sorted({r["workload"] for r in rows}):
    rs = [r for r in rows if r["workload"] == w]
    def med(k): return statistics.median(float(r[k]) for r in rs)
    def rng(k): return min(float(r[k]) for r in rs), max(float(r[k]) for r in rs)
    print(f"{w}: ours {med('ours_1proc'):.0f} triples/s (1 process), {med('ours_dp2'):.0f} (dp=2), reference "
          f"{med('reference'):.0f}; ratio {med('ratio_1proc'):.2f} (range {rng('ratio_1proc')[0]:.2f}-"
          f"{rng('ratio_1proc')[1]:.2f}), dp=2 {med('ratio_dp2'):.2f} ({len(rs)} repeats)")
PY
