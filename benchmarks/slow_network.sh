#!/usr/bin/env bash
# Data-parallel step time per gradient compressor over a slow network between
# two hosts: one rank on each of two emulated hosts (scripts/emulate-hosts.sh:
# network namespaces joined by a veth pair, a tbf qdisc on each end), MPI over
# TCP on that link, so every gradient byte crosses it. Must run as root (ip
# netns, tc).
#
# For each rate, one MPI job of benchmarks/dp_step.cc times every compressor
# (round-robin over --rounds passes, a fresh Trainer per compressor and pass,
# reducer_mode overlap, compressor warm-up 0, topk ratio --ratio); then one job
# with the reducer off gives the compute-only floor (no communication). Bytes:
#   bytes_per_step  bytes of the tensors rank 0 handed to MPI per step (the
#                   compressor's count; an all-to-all counts the rank's own part too)
#   wire_per_step   bytes rank 0 sent on hostA's end of the link per step
#                   (payload plus TCP/IP headers, ACKs and barriers)
# Each end of the link has its own qdisc: RATE holds in each direction, as on a
# full-duplex link.
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
#   --rounds N           round-robin passes inside one job; the job's step time
#                        is their median (default 3; with an even number the mean
#                        of the two middle values, as dp_step_bench takes it)
#   --repeats N          passes over all rates (and the compute-only job), the
#                        rate order reversed every other pass; the table shows
#                        the median over passes (default 1)
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
REPEATS=1
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
    --repeats) need_arg "$@"; need_int "$1" "$2"; REPEATS="$2"; shift 2 ;;
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
[[ $STEPS -ge 1 && $ROUNDS -ge 1 && $REPEATS -ge 1 && $THREADS -ge 1 ]] ||
  die "--steps, --rounds, --repeats and --threads must be >= 1"
IFS=, read -r -a RATE_LIST <<< "$RATES"
[[ ${#RATE_LIST[@]} -ge 1 ]] || die "--rates is empty"
for r in "${RATE_LIST[@]}"; do
  [[ "$r" == unlimited || "$r" =~ ^[0-9]+([.][0-9]+)?(bit|kbit|mbit|gbit|tbit)$ ]] ||
    die "--rates: '$r' is not a tc rate like 1gbit, 500mbit (or 'unlimited')"
done

mkdir -p "$OUT_DIR/logs"
# mpirun starts on hostA at / (nsenter enters the host's mount namespace there):
# every path it is given is absolute, and the ranks start in the repository
# root (--wdir), where the configs' relative data.dir resolve as elsewhere.
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
BUILD_DIR="$(cd "$BUILD_DIR" 2> /dev/null && pwd)" || die "build directory '${BUILD_DIR}' not found"
CONFIG="$(realpath "$CONFIG")"
BIN="$BUILD_DIR/benchmarks/dp_step_bench"
if [[ $BUILD -eq 1 ]]; then
  for attempt in 1 2 3; do  # other people may be mid-edit
    if cmake --build "$BUILD_DIR" -j"$(nproc)" --target dp_step_bench > "$OUT_DIR/logs/build.log" 2>&1; then break; fi
    [[ $attempt -lt 3 ]] || { tail -n 20 "$OUT_DIR/logs/build.log" >&2; die "build failed (log: $OUT_DIR/logs/build.log); fix it or use --no-build"; }
    echo "slow_network.sh: build failed (attempt $attempt), retrying in 60 s" >&2
    sleep 60
  done
fi
[[ -x "$BIN" ]] || die "'$BIN' not found; build it: cmake --build $BUILD_DIR --target dp_step_bench"
# Which binary the figures are from (the tree may change between runs).
{ date -u +%FT%TZ; ls -l --time-style=full-iso "$BIN"; sha256sum "$BIN"; } > "$OUT_DIR/logs/binary.txt"

NET_DIR="$OUT_DIR/logs/hosts"
HOSTS="$ROOT/scripts/emulate-hosts.sh"
cleanup() { "$HOSTS" down "$NET_DIR" 2> /dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$HOSTS" up "$NET_DIR" || die "cannot create the emulated hosts (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
source "$NET_DIR/env"

# tbf on both ends of the link (scripts/emulate-hosts.sh sizes the bucket);
# latency bounds the queue (rate x latency + burst).
set_rate() {  # rate
  "$HOSTS" rate "$NET_DIR" "$1" || die "tc tbf rate $1 failed (is the sch_tbf module available?)"
  echo "slow_network.sh: link limited to $1 each way" >&2
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

# Interference: CPU seconds the machine spent (user+nice+system, /proc/stat)
# minus those of this shell's finished children ('times', which the job's
# processes roll up into), over the job's wall time = cores other processes
# used meanwhile (approximate: kernel work of the job's loopback TCP can land
# in softirq time, which is left out on both sides).
machine_cpu_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4) / hz; exit }' /proc/stat; }
children_cpu_s() {  # sets CHILD_CPU; call it directly ('times' in a $(...) or a pipe sees a fresh subshell)
  times > "$OUT_DIR/logs/.times"
  CHILD_CPU="$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
                                printf "%.2f", s }' "$OUT_DIR/logs/.times")"
}

JSONL="$OUT_DIR/slow_network.jsonl"
: > "$JSONL"
mapfile -t HOST_ARGS < <("$HOSTS" mpirun-args "$NET_DIR")
MPI=("$HOSTS" run "$NET_DIR" A mpirun -np 2 --map-by node --hostfile "$NET_DIR/hosts" --allow-run-as-root --wdir "$ROOT"
     "${HOST_ARGS[@]}")
COMMON=(--config "$CONFIG" --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS" --rounds "$ROUNDS"
        --wire-iface "$DEV_A" --wire-ranks 1 --set parallel.compression.warmup_steps=0
        --set parallel.compression.ratio="$RATIO" "${SETS[@]}")

run_job() {  # label rate compressors modes repeat
  local label="$1" rate="$2" rep="$5" log="$OUT_DIR/logs/$1.$5" load after m0 m1 c0 c1 t0 t1 other
  wait_quiet "$label"
  load="$(load1)"
  m0="$(machine_cpu_s)"; children_cpu_s; c0="$CHILD_CPU"; t0="$(date +%s.%N)"
  local -a cmd=("${MPI[@]}" "$BIN" "${COMMON[@]}" --compressors "$3" --modes "$4")
  echo "slow_network.sh: [$label] load $load: ${cmd[*]}" >&2
  if ! "${cmd[@]}" > "$log.out" 2> "$log.err"; then
    tail -n 20 "$log.err" >&2
    die "$label failed (logs: $log.out, $log.err)"
  fi
  m1="$(machine_cpu_s)"; children_cpu_s; c1="$CHILD_CPU"; t1="$(date +%s.%N)"
  other="$(awk -v a="$m0" -v b="$m1" -v c="$c0" -v d="$c1" -v s="$t0" -v e="$t1" \
    'BEGIN { o = ((b - a) - (d - c)) / (e - s); printf "%.2f", (o < 0 ? 0 : o) }')"
  after="$(load1)"
  echo "        other processes used ~$other cores during the job" >&2
  ip netns exec "$NS_A" tc -s qdisc show dev "$DEV_A" > "$log.qdisc" 2>&1 || true
  grep -E '^\{.*\}\s*$' "$log.out" | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    r["rate"], r["repeat"] = sys.argv[1], int(sys.argv[4])
    r["load1"], r["load1_after"], r["other_cores"] = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[5])
    print(json.dumps(r))
    print("        {:<7} {:<8} {:8.1f} ms/step".format(r["compressor"], r["mode"], r["step_ms"]), file=sys.stderr)
 ' "$rate" "$load" "$after" "$rep" "$other" >> "$JSONL"
}

for ((rep = 1; rep <= REPEATS; rep++)); do
  order=("${RATE_LIST[@]}")
  if (( rep % 2 == 0 )); then
    order=(); for ((i = ${#RATE_LIST[@]} - 1; i >= 0; i--)); do order+=("${RATE_LIST[$i]}"); done
  fi
  [[ $REPEATS -gt 1 ]] && echo "slow_network.sh: pass $rep/$REPEATS: ${order[*]}" >&2
  for rate in "${order[@]}"; do
    set_rate "$rate"
    run_job "rate-$rate" "$rate" "$COMPRESSORS" overlap "$rep"
  done
  if [[ $FLOOR -eq 1 ]]; then
    set_rate unlimited
    run_job "compute-only" compute-only none off "$rep"
  fi
done

"$PYTHON" - "$JSONL" "$OUT_DIR" <<'EOF'
import csv, json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
# Per-job rows (CSV), then the median over passes per (rate, compressor, mode).
none_of = {(r["rate"], r["repeat"]): r["step_ms"] for r in rows if r["compressor"] == "none" and r["mode"] != "off"}
cols = ["repeat", "rate", "compressor", "mode", "step_ms", "speedup_vs_none", "busy_ms", "exposed_ms",
        "bytes_per_step", "wire_bytes_per_step", "achieved_ratio", "step_ms_rounds", "load1", "load1_after", "other_cores"]
with open(os.path.join(out, "slow_network.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for r in rows:
        base = none_of.get((r["rate"], r["repeat"]))
        r["speedup_vs_none"] = round(base / r["step_ms"], 3) if base and r["mode"] != "off" else ""
        r["step_ms_rounds"] = " ".join(f"{1e3 * s:.1f}" for s in r.get("step_ms_rounds", []))
        w.writerow([r.get(c, "") for c in cols])
keys = []
for r in rows:
    k = (r["rate"], r["compressor"], r["mode"])
    if k not in keys:
        keys.append(k)
rates = [k[0] for k in keys if k[2] != "off"]
rates = sorted(set(rates), key=rates.index)
keys.sort(key=lambda k: (k[2] == "off", rates.index(k[0]) if k[0] in rates else 0))
agg = {}
for k in keys:
    m = [r for r in rows if (r["rate"], r["compressor"], r["mode"]) == k]
    med = lambda c: statistics.median(float(r[c]) for r in m)
    agg[k] = {"step_ms": med("step_ms"), "all": [r["step_ms"] for r in m], "busy_ms": med("busy_ms"),
              "exposed_ms": med("exposed_ms"), "bytes": med("bytes_per_step"),
              "wire": med("wire_bytes_per_step") if all("wire_bytes_per_step" in r for r in m) else None}
n_rep = max(r["repeat"] for r in rows)
print(f"{'rate':<12} {'compressor':<11} {'step ms':>8} {'vs none':>8} {'busy ms':>8} {'exposed':>8} "
      f"{'MPI B/rank/step':>16} {'wire B/rank/step':>17}" + ("  step ms per pass" if n_rep > 1 else ""))
for k in keys:
    a = agg[k]
    base = agg.get((k[0], "none", "overlap"))
    a["speedup"] = base["step_ms"] / a["step_ms"] if base and k[2] != "off" else None
    sp = f"{a['speedup']:.2f}x" if a["speedup"] is not None else "-"
    name = k[1] if k[2] != "off" else f"{k[1]} (off)"
    wire = f"{a['wire']:,.0f}" if a["wire"] is not None else "-"
    per = ("  " + " ".join(f"{v:.1f}" for v in a["all"])) if n_rep > 1 else ""
    print(f"{k[0]:<12} {name:<11} {a['step_ms']:>8.1f} {sp:>8} {a['busy_ms']:>8.1f} {a['exposed_ms']:>8.1f} "
          f"{a['bytes']:>16,.0f} {wire:>17}{per}")
loads = [r["load1"] for r in rows]
after = [r.get("load1_after", r["load1"]) for r in rows]
other = [r["other_cores"] for r in rows if "other_cores" in r]
print(f"{n_rep} pass(es); load1 before jobs {min(loads):.2f}-{max(loads):.2f}, after {min(after):.2f}-{max(after):.2f}"
      f" (a 2-rank job alone adds up to ~2)" +
      (f"; other processes used {min(other):.2f}-{max(other):.2f} cores during jobs" if other else ""))
print(f"per-job rows: {os.path.join(out, 'slow_network.csv')}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("no matplotlib: plot skipped (Debian: apt-get install -y python3-matplotlib)", file=sys.stderr)
    sys.exit(0)
comps = []
for k in keys:
    if k[2] != "off" and k[1] not in comps:
        comps.append(k[1])
floor = next((agg[k]["step_ms"] for k in keys if k[2] == "off"), None)
width = 0.8 / max(1, len(comps))
fig, ax = plt.subplots(figsize=(max(6.0, 1.8 + 1.8 * len(rates)), 4.5))
for j, c in enumerate(comps):
    xs, ys, labels = [], [], []
    for i, rate in enumerate(rates):
        a = agg.get((rate, c, "overlap"))
        if a:
            xs.append(i + (j - (len(comps) - 1) / 2) * width)
            ys.append(a["step_ms"])
            labels.append(f"{a['speedup']:.1f}x" if a["speedup"] is not None else "")
    bars = ax.bar(xs, ys, width, label=c)
    for b, t in zip(bars, labels):
        ax.annotate(t, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
if floor is not None:
    ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label=f"compute only ({floor:.0f} ms)")
ax.set_xticks(range(len(rates)))
ax.set_xticklabels(rates)
ax.set_xlabel("loopback rate (tbf, both directions together)")
ax.set_ylabel("step time (ms, median)")
ax.set_title("2 ranks, MPI over TCP, rate-limited loopback\n(labels: speedup over none at the same rate)", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
png = os.path.join(out, "slow_network.png")
fig.savefig(png, dpi=120)
print(f"plot: {png}")
EOF
