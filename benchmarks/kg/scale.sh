#!/usr/bin/env bash
# An entity table beyond one rank's memory. Synthetic graphs of 1 M, 10 M and
# 50 M entities (autoglm generate kg, ids form, about 1 M training triples
# each) train at tp=4 (the entity table sharded by rows) inside a memory
# cgroup that gives each of the four ranks 4 GiB, with the same batch and
# negatives: steps per second of each size side by side (a step touches a
# batch's rows, never the whole table), each rank's peak RSS against the
# need the start-up check computed, and the 50 M graph at tp=1 under the same
# 4 GiB refused by that check before any table is allocated.
#
# Needs root (a cgroup v1 or v2 memory controller) and mpirun. The four ranks
# share two cores here: steps/s are oversubscribed figures, comparable with
# each other (same run, same machine), not with a real cluster's.
#   benchmarks/kg/scale.sh            # writes benchmarks/kg/results/scale/
#   SIZES="1000000" STEPS=20 benchmarks/kg/scale.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
AUTOGLM=${AUTOGLM:-$PWD/build/launch/autoglm}
OUT=${OUT_DIR:-benchmarks/kg/results/scale}
WORK=${WORK:-/tmp/autoglm_kg_scale}
SIZES=${SIZES:-"1000000 10000000 50000000"}
STEPS=${STEPS:-40}
PER_RANK=${PER_RANK:-4G}
mkdir -p "$OUT" "$WORK"

# A child of this shell's memory cgroup (v2: memory.max; v1: memory.limit_in_bytes).
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ || $2 == "" {print $3; exit}' /proc/self/cgroup)
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then base=/sys/fs/cgroup$own; file=memory.max
else base=/sys/fs/cgroup/memory$own; file=memory.limit_in_bytes; fi
CG=$base/autoglm_kg_scale
runs=0
cleanup() { for d in "$CG"-*; do [[ -d $d ]] && rmdir "$d" 2>/dev/null; done; true; }
trap cleanup EXIT
bytes() { numfmt --from=iec "$1"; }
in_cgroup() {  # in_cgroup LIMIT cmd...: runs cmd inside a fresh cgroup limited to LIMIT bytes
  runs=$((runs + 1))
  local cg=$CG-$runs
  mkdir -p "$cg"
  echo "$1" > "$cg/$file"; shift
  bash -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$cg" "$@"
}

config() {  # config DATA_DIR OUT_DIR
  cat <<YAML
run: {name: kg_scale, out_dir: $2, seed: 1, threads: 1}
model: {kind: kg_completion}
kg: {data_dir: $1, score: complex, dim: 32, training: negative, batch: 1024, negatives: 256, reciprocal: true,
     n3: 0.0, init_scale: 0.001, eval_batch: 16, valid_max: 16, test_max: 16}
train: {optimizer: adagrad, lr: 0.1, weight_decay: 0, warmup_steps: 0, schedule: constant, grad_clip: 0,
        epochs: 1, max_steps: $STEPS, log_every: 1, progress: off, keep_checkpoints: 1}
YAML
}

csv=$OUT/scale.csv
echo "entities,tp,steps,steps_per_s,need_per_rank,peak_rss_per_rank,limit_per_rank,seconds" > "$csv"
for e in $SIZES; do
  data=$WORK/kg-$e
  if [[ ! -f $data/kg.json ]]; then
    tpe=$(awk -v e="$e" 'BEGIN {printf "%.6f", 1000000 / 0.98 / e}')
    "$AUTOGLM" generate kg --out "$data" --entities "$e" --relations 100 --triples-per-entity "$tpe" \
      --max-degree 1000 --seed 1 --overwrite > "$WORK/generate-$e.log"
  fi
  run=$WORK/run-$e
  rm -rf "$run"
  config "$data" "$run" > "$WORK/kg-$e.yaml"
  t0=$(date +%s.%N)
  status=0
  in_cgroup $(( $(bytes "$PER_RANK") * 4 )) mpirun -np 4 --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 \
    /usr/bin/time -f "peak_rss_kb %M" "$AUTOGLM" train "$WORK/kg-$e.yaml" --set parallel.tp=4 --overwrite \
    > "$WORK/train-$e.log" 2>&1 || status=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  if [[ $status != 0 ]]; then  # an OOM kill (137) is a result too: the check let through what did not fit
    cp "$WORK/train-$e.log" "$OUT/failed-$e.log"
    echo "$e,4,$STEPS,failed (exit $status; failed-$e.log),,,,$secs" | tee -a "$csv"
    continue
  fi
  # Steps/s between step 5 and the last (start-up and the first steps' page faults left out).
  sps=$(python3 - "$run/metrics.jsonl" <<'PY'
import json, sys
t = {j["step"]: j["time"] for j in map(json.loads, open(sys.argv[1])) if j.get("event") == "train"}
last = max(t)
print(f"{(last - 5) / (t[last] - t[5]):.2f}")
PY
)
  need=$(grep -o 'needs [0-9.]* [GMK]iB' "$WORK/train-$e.log" | head -1 | cut -d' ' -f2-)
  limit=$(grep -o 'limit [0-9.]* [GMK]iB' "$WORK/train-$e.log" | head -1 | cut -d' ' -f2-)
  rss=$(grep -o 'peak_rss_kb [0-9]*' "$WORK/train-$e.log" | awk '{printf "%s%.2f GiB", sep, $2 / 1048576; sep=" "}')
  echo "$e,4,$STEPS,$sps,$need,$rss,$limit,$secs" | tee -a "$csv"
  rm -rf "$run"
done

# The largest graph at tp=1 under one rank's limit: refused at start-up.
e=${SIZES##* }
config "$WORK/kg-$e" "$WORK/run-refused" > "$WORK/kg-refused.yaml"
set +e
in_cgroup "$(bytes "$PER_RANK")" "$AUTOGLM" train "$WORK/kg-refused.yaml" --overwrite > "$OUT/refusal.txt" 2>&1
rc=$?
set -e
echo "exit status $rc" >> "$OUT/refusal.txt"
cat "$OUT/refusal.txt"
