#!/usr/bin/env bash
# Data-parallel scaling measured over two emulated hosts (scripts/emulate-hosts.sh:
# network namespaces joined by a veth pair, a tbf qdisc on each end at RATE, MPI
# over TCP on that link), beside the performance model's prediction for every
# measured point. Must run as root (ip netns, tc).
#
# For each rate:
#   1. the link: our all-reduce (benchmarks/collective) between one rank on each
#      host, 4 B to 64 MiB; `autoglm simulate --fit` fits alpha and beta to it and
#      the script writes the cluster file the predictions use (2 nodes, ranks
#      filling hostA first, compute_cores = this machine's cores);
#   2. the steps: dp_step_bench (benchmarks/dp_step.cc, every compressor,
#      reducer overlap) at each rank count, half the ranks on each host:
#      weak scaling (train.batch_graphs = --batch per rank) and strong scaling
#      (--batch x 2 graphs in all, split over the ranks);
#   3. the layouts (--layouts, default "1,2,1 1,1,2": tp = 2 and pp = 2, one rank
#      on each host): benchmarks/layouts' layout_step_bench, the same config and
#      batch, beside the model's tensor-parallel and pipeline replays.
# The workloads are measured once on one process (`autoglm simulate --profile`
# at each per-rank batch). More ranks than cores is oversubscribed: the model
# then slows each rank's compute by ranks / cores (cluster.compute_cores), and
# the tables label those rows; from 2 ranks on it also applies the slowdown of
# a rank whose machine's every core computes (busy_factor.txt, measured first).
#
# Results go to OUT_DIR as they finish (steps.jsonl is appended per job; a job
# whose (rate, ranks, scaling) is already there is skipped, so a stopped run
# resumes); then benchmarks/scaling/compare.py writes model_vs_emulated.{csv,md,png}.
#
# Usage: benchmarks/scaling/emulated.sh [--rates 1gbit,10gbit,25gbit] [--ranks 2,4,8]
#          [--config configs/ohsumed_300d.yaml] [--batch 32] [--steps 6] [--rounds 2]
#          [--compressors none,fp16,onebit,topk] [--layouts "1,2,1 1,1,2"] [--passes 1]
#          [--no-build] [--report-only]
# --passes P: every step job P times, one after another; the report
# takes the median over passes and shows their spread.
# Environment: BUILD_DIR (default build), OUT_DIR (default
#   benchmarks/scaling/results/emulated), PYTHON (default /usr/bin/python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RATES=1gbit,10gbit,25gbit
RANKS=2,4,8
CONFIG=configs/ohsumed_300d.yaml
BATCH=32
STEPS=6
ROUNDS=2
COMPRESSORS=none,fp16,onebit,topk
LAYOUTS="1,2,1 1,1,2"
PASSES=1
BUILD=1
REPORT_ONLY=0
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-benchmarks/scaling/results/emulated}"
PYTHON="${PYTHON:-/usr/bin/python3}"
die() { echo "emulated.sh: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rates) RATES="${2:?}"; shift 2 ;;
    --ranks) RANKS="${2:?}"; shift 2 ;;
    --config) CONFIG="${2:?}"; shift 2 ;;
    --batch) BATCH="${2:?}"; shift 2 ;;
    --steps) STEPS="${2:?}"; shift 2 ;;
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    --compressors) COMPRESSORS="${2:?}"; shift 2 ;;
    --layouts) LAYOUTS="$2"; shift 2 ;;
    --passes) PASSES="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --report-only) REPORT_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
mkdir -p "$OUT_DIR/logs"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
BUILD_DIR="$(cd "$BUILD_DIR" 2> /dev/null && pwd)" || die "build directory '$BUILD_DIR' not found"
AUTOGLM="$BUILD_DIR/launch/autoglm"
source "$ROOT/benchmarks/scaling/profile_median.sh"
report() {
  "$PYTHON" "$ROOT/benchmarks/scaling/compare.py" "$OUT_DIR" "$AUTOGLM"
}
if [[ $REPORT_ONLY -eq 1 ]]; then report; exit 0; fi
[[ "$(id -u)" -eq 0 ]] || die "must run as root (network namespaces, tc)"
[[ -f "$CONFIG" ]] || die "config '$CONFIG' not found"
CONFIG="$(realpath "$CONFIG")"
if [[ $BUILD -eq 1 ]]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target dp_step_bench collective_bench layout_step_bench autoglm > "$OUT_DIR/logs/build.log" 2>&1 ||
    die "build failed (log: $OUT_DIR/logs/build.log)"
fi
STEP_BIN="$BUILD_DIR/benchmarks/dp_step_bench"
LAYOUT_BIN="$BUILD_DIR/benchmarks/layout_step_bench"
COLL_BIN="$BUILD_DIR/benchmarks/collective/collective_bench"
CORES="$(nproc)"
IFS=, read -r -a RATE_LIST <<< "$RATES"
IFS=, read -r -a RANK_LIST <<< "$RANKS"
for p in "${RANK_LIST[@]}"; do
  [[ "$p" =~ ^[0-9]+$ && $((p % 2)) -eq 0 && $p -ge 2 ]] || die "--ranks: $p is not an even count >= 2 (half on each host)"
done
STRONG_TOTAL=$((BATCH * 2))
{ date -u +%FT%TZ; sha256sum "$STEP_BIN" "$COLL_BIN" "$AUTOGLM"; git -C "$ROOT" rev-parse HEAD; } > "$OUT_DIR/logs/binary.txt"
echo "config=$(realpath --relative-to="$ROOT" "$CONFIG") batch=$BATCH strong_total=$STRONG_TOTAL steps=$STEPS rounds=$ROUNDS cores=$CORES" \
  > "$OUT_DIR/settings.txt"

# 1. One process, no communication: the workload at each per-rank batch.
for b in $(printf '%s\n' "$BATCH" "$STRONG_TOTAL" $(for p in "${RANK_LIST[@]}"; do echo $((STRONG_TOTAL / p)); done) | sort -un); do
  w="$OUT_DIR/workload_b$b.yaml"
  [[ -f "$w" ]] && continue
  echo "emulated.sh: profiling one process at $b graphs per step (3 times; the median run is kept)" >&2
  profile_median "$w" "$OUT_DIR/logs" "$AUTOGLM" "$CONFIG" --steps $((STEPS * 4)) --set train.batch_graphs="$b" \
    --set run.threads=1 --set parallel.compression.warmup_steps=0 || die "profile failed (logs in $OUT_DIR/logs)"
done


# How much slower a rank computes with every core busy: the profile alone and
# on every core at once, interleaved three times; the ratio of the medians.
if [[ ! -s "$OUT_DIR/busy_factor.txt" ]]; then
  echo "emulated.sh: profiling alone and on all $CORES cores at once (busy_compute_factor)" >&2
  busy_profile() {  # tag
    OMP_NUM_THREADS=1 "$AUTOGLM" simulate --profile "$CONFIG" --steps $((STEPS * 4)) --out "$OUT_DIR/logs/busy_$1.yaml" \
      --set train.batch_graphs="$BATCH" --set run.threads=1 > "$OUT_DIR/logs/busy_$1.log" 2>&1
  }
  for round in 1 2 3; do
    busy_profile "alone$round" || die "profile failed (log: $OUT_DIR/logs/busy_alone$round.log)"
    for ((c = 1; c <= CORES; c++)); do busy_profile "all${round}_$c" & done
    wait
  done
  grep -H "Step: median" "$OUT_DIR"/logs/busy_*.yaml | "$PYTHON" -c '
import re, statistics, sys
alone, busy = [], []
for line in sys.stdin:
    ms = float(re.search(r"median ([0-9.]+) ms", line).group(1))
    (alone if "busy_alone" in line else busy).append(ms)
f = max(1.0, statistics.median(busy) / statistics.median(alone))
print(f"{f:.3f} alone {statistics.median(alone):.2f} ms (" + " ".join(f"{a:.1f}" for a in alone) + f"), all cores busy {statistics.median(busy):.2f} ms (" + " ".join(f"{b:.1f}" for b in busy) + ")")
' > "$OUT_DIR/busy_factor.txt"
fi
BUSY_FACTOR="$(cut -d' ' -f1 "$OUT_DIR/busy_factor.txt")"
echo "emulated.sh: busy_compute_factor $(cat "$OUT_DIR/busy_factor.txt")" >&2

NET_DIR="$OUT_DIR/logs/hosts"
HOSTS="$ROOT/scripts/emulate-hosts.sh"
cleanup() { "$HOSTS" down "$NET_DIR" 2> /dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$HOSTS" up "$NET_DIR" > /dev/null || die "cannot create the emulated hosts"
source "$NET_DIR/env"
mapfile -t HOST_ARGS < <("$HOSTS" mpirun-args "$NET_DIR")
mpi() {  # ranks, then the command: half the ranks on each host, hostA's first
  local p=$1; shift
  printf '%s slots=%d\n%s slots=%d\n' "$IP_A" $((p / 2)) "$IP_B" $((p / 2)) > "$NET_DIR/hosts.$p"
  "$HOSTS" run "$NET_DIR" A mpirun -np "$p" --map-by slot --hostfile "$NET_DIR/hosts.$p" --allow-run-as-root \
    --wdir "$ROOT" -x OMP_NUM_THREADS=1 "${HOST_ARGS[@]}" "$@"
}
JSONL="$OUT_DIR/steps.jsonl"
touch "$JSONL"
done_already() {  # rate ranks scaling pass (rows without "pass" are pass 1)
  "$PYTHON" -c '
import json, sys
rate, ranks, scaling, n = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if any(r["rate"] == rate and r["ranks"] == ranks and r["scaling"] == scaling and r.get("pass", 1) == n
                  for r in rows) else 1)' "$JSONL" "$@"
}

for rate in "${RATE_LIST[@]}"; do
  "$HOSTS" rate "$NET_DIR" "$rate" || die "tc rate $rate failed"
  # 2. The link's alpha and beta.
  csv="$OUT_DIR/allreduce_${rate}_np2.csv"
  if [[ ! -s "$csv" ]]; then
    echo "emulated.sh: [$rate] all-reduce, one rank per host" >&2
    mpi 2 "$COLL_BIN" --csv "$csv" --trials 3 --max-bytes 16777216 > "$OUT_DIR/logs/allreduce_$rate.log" 2>&1 ||
      die "collective_bench failed (log: $OUT_DIR/logs/allreduce_$rate.log)"
  fi
  "$AUTOGLM" simulate --fit "$csv" > "$OUT_DIR/fit_$rate.txt"
  read -r lat gbit < <(awk '/alpha/ { for (i = 1; i <= NF; ++i) { if ($i == "alpha") a = $(i + 1);
                                                                   if ($i ~ /^\(/) g = substr($i, 2) } }
                            END { print a, g }' "$OUT_DIR/fit_$rate.txt")
  cat > "$OUT_DIR/cluster_$rate.yaml" << YAML
# Two emulated hosts on one ${CORES}-core machine, tbf at $rate each way; the link's
# alpha and beta fitted to our all-reduce between them (fit_$rate.txt,
# allreduce_${rate}_np2.csv). Written by benchmarks/scaling/emulated.sh.
cluster:
  name: emulated-$rate
  source: "measured here: autoglm simulate --fit allreduce_${rate}_np2.csv"
  nodes: 2
  ranks_per_node: $(( ${RANK_LIST[-1]} / 2 ))
  compute_cores: $CORES
  busy_compute_factor: $BUSY_FACTOR   # busy_factor.txt
  inter:
    bandwidth_gbit: $gbit
    latency_us: $lat
  intra:
    bandwidth_gbit: 92.45
    latency_us: 0.31
  allreduce: ring
YAML
  # 3. Step times.
  for ((pass = 1; pass <= PASSES; pass++)); do
  for p in "${RANK_LIST[@]}"; do
    for scaling in weak strong; do
      b=$BATCH; [[ $scaling == strong ]] && b=$((STRONG_TOTAL / p))
      [[ $scaling == strong && $b -eq $BATCH ]] && continue  # the same job as weak
      done_already "$rate" "$p" "$scaling" "$pass" && continue
      log="$OUT_DIR/logs/steps_${rate}_np${p}_$scaling"
      [[ $pass -gt 1 ]] && log="$log.pass$pass"
      echo "emulated.sh: [$rate] $p ranks, $scaling ($b graphs per rank), load $(cut -d' ' -f1 /proc/loadavg)" >&2
      mpi "$p" "$STEP_BIN" --config "$CONFIG" --threads 1 --warmup-steps 3 --steps "$STEPS" --rounds "$ROUNDS" \
        --compressors "$COMPRESSORS" --modes overlap --wire-iface "$DEV_A" --wire-ranks $((p / 2)) \
        --set parallel.compression.warmup_steps=0 --set train.batch_graphs="$b" > "$log.out" 2> "$log.err" ||
        { tail -n 20 "$log.err" >&2; die "dp_step_bench failed (logs: $log.out, $log.err)"; }
      grep -E '^\{.*\}\s*$' "$log.out" | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    out = {"rate": sys.argv[1], "ranks": int(sys.argv[2]), "scaling": sys.argv[3], "pass": int(sys.argv[6]),
           "batch_per_rank": int(sys.argv[4]), "cores": int(sys.argv[5])}
    out.update(r)
    print(json.dumps(out))
    print("        {:<7} {:8.1f} ms/step".format(r["compressor"], r["step_ms"]), file=sys.stderr)
' "$rate" "$p" "$scaling" "$b" "$CORES" "$pass" >> "$JSONL"
    done
  done
  done
  # 4. Layouts at 2 ranks, one on each host.
  for layout in $LAYOUTS; do
    grep -q "\"rate\": \"$rate\", \"layout\": \"$layout\"" "$OUT_DIR/layouts.jsonl" 2> /dev/null && continue
    log="$OUT_DIR/logs/layout_${rate}_${layout//,/x}"
    echo "emulated.sh: [$rate] layout $layout, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    mpi 2 "$LAYOUT_BIN" --config "$CONFIG" --layout "$layout" --warmup-steps 3 --steps $((STEPS * ROUNDS)) \
      --set train.batch_graphs="$BATCH" --set run.threads=1 > "$log.out" 2> "$log.err" ||
      { tail -n 20 "$log.err" >&2; die "layout_step_bench failed (logs: $log.out, $log.err)"; }
    grep -E '^\{.*\}\s*$' "$log.out" | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    out = {"rate": sys.argv[1], "layout": sys.argv[2], "batch_per_rank": int(sys.argv[3])}
    out.update(r)
    print(json.dumps(out))
    print("        layout {}: {:8.1f} ms/step".format(sys.argv[2], r["step_ms"]), file=sys.stderr)
' "$rate" "$layout" "$BATCH" >> "$OUT_DIR/layouts.jsonl"
  done
done
report
