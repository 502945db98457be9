#!/usr/bin/env bash
# Data-parallel step time per gradient compressor over a slow network: 2 ranks
# in a network namespace whose loopback is rate-limited with a tbf qdisc, MPI
# forced over TCP (--mca btl tcp,self), the shared-memory all-reduce fast path
# off (comm.shm_allreduce=false), so every gradient byte crosses the limited
# link. Must run as root (ip netns, tc).
#
# For each rate, one MPI job of benchmarks/dp_step.cc times every compressor
# (round-robin over --rounds passes, a fresh Trainer per compressor and pass,
# reducer_mode overlap, compressor warm-up 0, topk ratio --ratio); then one job
# with the reducer off gives the compute-only floor (no communication). Bytes:
#   bytes_per_step  bytes of the tensors rank 0 handed to MPI per step (the
#                   compressor's count; an all-to-all counts the rank's own part too)
#   wire_per_step   bytes sent on lo in the namespace per step, divided by the
#                   ranks (payload plus TCP/IP headers, ACKs and barriers)
# Both ranks share the one limited lo qdisc, so RATE is the sum of both
# directions (a full-duplex link of RATE would carry twice as much).
#
# Usage: benchmarks/slow_network.sh [options]
#   --config PATH        experiment (default configs/ohsumed_300d.yaml: ~3.8M
#                        parameters, 15 MB of float32 gradient per step)
#   --rates LIST         comma-separated tc rates, 'unlimited' = no qdisc
#                        (default 1gbit,10gbit,unlimited)
#   --compressors LIST   (default none,fp16,onebit,topk)
#   --ratio R            topk fraction sent (default 0.01)
#   --warmup-steps N     untimed steps per compressor and pass (default 3)
#   --steps N            timed steps per compressor and pass (default 15)
#   --rounds N           round-robin passes; the step time is their median
#                        (default 3)
#   --threads N          intra-op threads per rank (default 1)
#   --set KEY=VALUE      extra config override for dp_step_bench (repeatable)
#   --no-floor           skip the compute-only (reducer off) job
#   --no-build           do not run 'cmake --build' first
#   --max-load L         before each job, wait (60 s at a time, at most
#                        --max-wait s) while the 1-minute load is above L
#                        (default 1.2; 0 = never wait)
#   --max-wait S         (default 600)
# Environment:
#   BUILD_DIR   C++ build directory (default build)
#   OUT_DIR     results (default bench-out/slow-network): slow_network.csv,
#               slow_network.jsonl, slow_network.png, logs/ (each job's output
#               and the qdisc statistics)
#   PYTHON      interpreter with matplotlib for the plot (default /usr/bin/python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONFIG=configs/ohsumed_300d.yaml
RATES=1gbit,10gbit,unlimited
COMPRESSORS=none,fp16,onebit,topk
RATIO=0.01
WARMUP=3
STEPS=15
ROUNDS=3
THREADS=1
FLOOR=1
BUILD=1
MAX_LOAD=1.2
MAX_WAIT=600
SETS=()
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/slow-network}"
PYTHON="${PYTHON:-/usr/bin/python3}"

die() { echo "slow_network.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }
need_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"; }
need_num() { [[ "$2" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$1 must be a non-negative number, got '$2'"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) need_arg "$@"; CONFIG="$2"; shift 2 ;;
    --rates) need_arg "$@"; RATES="$2"; shift 2 ;;
    --compressors) need_arg "$@"; COMPRESSORS="$2"; shift 2 ;;
    --ratio) need_arg "$@"; need_num "$1" "$2"; RATIO="$2"; shift 2 ;;
    --warmup-steps) need_arg "$@"; need_int "$1" "$2"; WARMUP="$2"; shift 2 ;;
    --steps) need_arg "$@"; need_int "$1" "$2"; STEPS="$2"; shift 2 ;;
    --rounds) need_arg "$@"; need_int "$1" "$2"; ROUNDS="$2"; shift 2 ;;
    --threads) need_arg "$@"; need_int "$1" "$2"; THREADS="$2"; shift 2 ;;
    --set) need_arg "$@"; SETS+=(--set "$2"); shift 2 ;;
    --no-floor) FLOOR=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --max-load) need_arg "$@"; need_num "$1" "$2"; MAX_LOAD="$2"; shift 2 ;;
    --max-wait) need_arg "$@"; need_int "$1" "$2"; MAX_WAIT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "slow_network.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
  esac
done
[[ "$(id -u)" -eq 0 ]] || die "must run as root (it creates a network namespace and a tc qdisc)"
command -v ip > /dev/null && command -v tc > /dev/null || die "needs ip and tc (Debian: apt-get install -y iproute2)"
command -v mpirun > /dev/null || die "mpirun not found (install Open MPI)"
[[ -f "$CONFIG" ]] || die "config '$CONFIG' not found"
[[ $STEPS -ge 1 && $ROUNDS -ge 1 && $THREADS -ge 1 ]] || die "--steps, --rounds and --threads must be >= 1"
IFS=, read -r -a RATE_LIST <<< "$RATES"
[[ ${#RATE_LIST[@]} -ge 1 ]] || die "--rates is empty"
for r in "${RATE_LIST[@]}"; do
  [[ "$r" == unlimited || "$r" =~ ^[0-9]+([.][0-9]+)?(bit|kbit|mbit|gbit|tbit)$ ]] ||
    die "--rates: '$r' is not a tc rate like 1gbit, 500mbit (or 'unlimited')"
done

BIN="$BUILD_DIR/benchmarks/dp_step_bench"
mkdir -p "$OUT_DIR/logs"
if [[ $BUILD -eq 1 ]]; then
  for attempt in 1 2 3; do  # other people may be mid-edit
    if cmake --build "$BUILD_DIR" -j"$(nproc)" --target dp_step_bench > "$OUT_DIR/logs/build.log" 2>&1; then break; fi
    [[ $attempt -lt 3 ]] || { tail -n 20 "$OUT_DIR/logs/build.log" >&2; die "build failed (log: $OUT_DIR/logs/build.log); fix it or use --no-build"; }
    echo "slow_network.sh: build failed (attempt $attempt), retrying in 60 s" >&2
    sleep 60
  done
fi
[[ -x "$BIN" ]] || die "'$BIN' not found; build it: cmake --build $BUILD_DIR --target dp_step_bench"

NS="autoglm-slownet-$$"
cleanup() { ip netns del "$NS" 2> /dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS" || die "cannot create network namespace $NS (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
ip netns exec "$NS" ip link set lo up

# tbf: the bucket must hold at least a rate/HZ worth of bytes (HZ 250 here taken
# as the worst case) and more than one loopback GSO packet (64 KiB), so 256 KiB
# at least; latency bounds the queue (rate x latency + burst).
set_rate() {  # rate
  ip netns exec "$NS" tc qdisc del dev lo root 2> /dev/null || true
  [[ "$1" == unlimited ]] && return 0
  local bytes_per_s burst
  bytes_per_s="$(awk -v r="$1" 'BEGIN {
    n = r + 0; u = tolower(substr(r, length(n "") + 1));
    m = (u == "bit") ? 1 : (u == "kbit") ? 1e3 : (u == "mbit") ? 1e6 : (u == "gbit") ? 1e9 : 1e12;
    printf "%.0f", n * m / 8 }')"
  burst=$(( bytes_per_s / 250 ))
  (( burst >= 262144 )) || burst=262144
  ip netns exec "$NS" tc qdisc add dev lo root tbf rate "$1" burst "$burst" latency 100ms ||
    die "tc qdisc add dev lo root tbf rate $1 failed (is the sch_tbf module available?)"
  echo "slow_network.sh: lo limited to $1 (tbf burst $burst bytes, latency 100ms)" >&2
}

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {  # label
  local waited=0 l
  [[ "$MAX_LOAD" == 0 ]] && return 0
  while l="$(load1)"; awk -v l="$l" -v m="$MAX_LOAD" 'BEGIN { exit !(l > m) }'; do
    if (( waited >= MAX_WAIT )); then
      echo "slow_network.sh: warning: load $l still above $MAX_LOAD after ${waited} s; running $1 anyway (figures will be noisy)" >&2
      return 0
    fi
    echo "slow_network.sh: load $l > $MAX_LOAD, waiting 60 s before $1" >&2
    sleep 60; waited=$((waited + 60))
  done
}

JSONL="$OUT_DIR/slow_network.jsonl"
: > "$JSONL"
MPI=(mpirun -np 2 --oversubscribe --allow-run-as-root --mca btl tcp,self
     --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
COMMON=(--config "$CONFIG" --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS" --rounds "$ROUNDS"
        --wire-iface lo --set comm.shm_allreduce=false --set parallel.compression.warmup_steps=0
        --set parallel.compression.ratio="$RATIO" "${SETS[@]}")

run_job() {  # label rate compressors modes
  local label="$1" rate="$2" log="$OUT_DIR/logs/$1" load
  wait_quiet "$label"
  load="$(load1)"
  local -a cmd=(ip netns exec "$NS" "${MPI[@]}" "$BIN" "${COMMON[@]}" --compressors "$3" --modes "$4")
  echo "slow_network.sh: [$label] load $load: ${cmd[*]}" >&2
  if ! "${cmd[@]}" > "$log.out" 2> "$log.err"; then
    tail -n 20 "$log.err" >&2
    die "$label failed (logs: $log.out, $log.err)"
  fi
  ip netns exec "$NS" tc -s qdisc show dev lo > "$log.qdisc" 2>&1 || true
  grep -E '^\{.*\}\s*$' "$log.out" | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    r["rate"], r["load1"] = sys.argv[1], float(sys.argv[2])
    print(json.dumps(r))
    print("        {:<7} {:<8} {:8.1f} ms/step".format(r["compressor"], r["mode"], r["step_ms"]), file=sys.stderr)
' "$rate" "$load" >> "$JSONL"
}

for rate in "${RATE_LIST[@]}"; do
  set_rate "$rate"
  run_job "rate-$rate" "$rate" "$COMPRESSORS" overlap
done
if [[ $FLOOR -eq 1 ]]; then
  set_rate unlimited
  run_job "compute-only" compute-only none off
fi

"$PYTHON" - "$JSONL" "$OUT_DIR" <<'EOF'
import csv, json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
floor = next((r["step_ms"] for r in rows if r["mode"] == "off"), None)
rates = []
for r in rows:
    if r["mode"] != "off" and r["rate"] not in rates:
        rates.append(r["rate"])
none_ms = {r["rate"]: r["step_ms"] for r in rows if r["compressor"] == "none" and r["mode"] != "off"}
cols = ["rate", "compressor", "mode", "step_ms", "speedup_vs_none", "busy_ms", "exposed_ms", "bytes_per_step",
        "wire_bytes_per_step", "achieved_ratio", "step_ms_rounds", "load1"]
with open(os.path.join(out, "slow_network.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for r in rows:
        base = none_ms.get(r["rate"])
        r["speedup_vs_none"] = round(base / r["step_ms"], 3) if base and r["mode"] != "off" else ""
        r["step_ms_rounds"] = " ".join(f"{1e3 * s:.1f}" for s in r.get("step_ms_rounds", []))
        w.writerow([r.get(c, "") for c in cols])
print(f"{'rate':<10} {'compressor':<10} {'step ms':>9} {'vs none':>8} {'busy ms':>8} {'exposed':>8} "
      f"{'MPI bytes/rank/step':>20} {'wire bytes/rank/step':>21}")
for r in rows:
    sp = f"{r['speedup_vs_none']:.2f}x" if r["speedup_vs_none"] != "" else "-"
    wire = r.get("wire_bytes_per_step")
    print(f"{r['rate']:<10} {r['compressor'] + ('' if r['mode'] != 'off' else ' (off)'):<10} {r['step_ms']:>9.1f} "
          f"{sp:>8} {r['busy_ms']:>8.1f} {r['exposed_ms']:>8.1f} {r['bytes_per_step']:>20,.0f} "
          f"{(f'{wire:,.0f}' if wire is not None else '-'):>21}")
loads = [r["load1"] for r in rows]
print(f"load1 before jobs: {min(loads):.2f}-{max(loads):.2f}; per-run results: {os.path.join(out, 'slow_network.csv')}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("no matplotlib: plot skipped (Debian: apt-get install -y python3-matplotlib)", file=sys.stderr)
    sys.exit(0)
comps = []
for r in rows:
    if r["mode"] != "off" and r["compressor"] not in comps:
        comps.append(r["compressor"])
width = 0.8 / max(1, len(comps))
fig, ax = plt.subplots(figsize=(max(6.0, 1.8 + 1.8 * len(rates)), 4.5))
for j, c in enumerate(comps):
    xs, ys, labels = [], [], []
    for i, rate in enumerate(rates):
        m = [r for r in rows if r["rate"] == rate and r["compressor"] == c and r["mode"] != "off"]
        if m:
            xs.append(i + (j - (len(comps) - 1) / 2) * width)
            ys.append(m[0]["step_ms"])
            labels.append(f"{m[0]['speedup_vs_none']:.1f}x" if m[0]["speedup_vs_none"] != "" else "")
    bars = ax.bar(xs, ys, width, label=c)
    for b, t in zip(bars, labels):
        ax.annotate(t, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
if floor is not None:
    ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label=f"compute only ({floor:.0f} ms)")
ax.set_xticks(range(len(rates)))
ax.set_xticklabels(rates)
ax.set_xlabel("loopback rate (tbf, both directions together)")
ax.set_ylabel("step time (ms, median over rounds)")
ax.set_title("2 ranks, MPI over TCP, rate-limited loopback\n(labels: speedup over none at the same rate)", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
png = os.path.join(out, "slow_network.png")
fig.savefig(png, dpi=120)
print(f"plot: {png}")
EOF
