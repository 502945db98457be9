#!/usr/bin/env bash
# Data-parallel training throughput (global graphs/s) of Open-AutoGLM against
# PyTorch DistributedDataParallel over gloo (benchmarks/reference/ddp_reference.py,
# the gat_reference.py model, graphs and batching), both launched by mpirun with
# the same ranks, core binding and intra-op threads per rank.
#
#   ours:      mpirun -np RANKS dp_step_bench --compressors none --modes overlap --rounds 1
#              (bucketed all-reduce overlapped with backward, the default reducer)
#   reference: mpirun -np RANKS python3 ddp_reference.py (DDP, gloo, bucket_cap_mb 25)
# Each rank trains its share of the same global batches (ranks x train.batch_graphs
# graphs; node-balanced split, parallel/distributed_sampler.cc, on both sides).
#
# The implementations run alternately, --repeats times each (the order rotates
# every repeat), so noise on a shared machine hits all alike; the table shows
# median, min and max graphs/s per implementation and the ratio of the medians.
#
# Usage: benchmarks/ddp_throughput.sh [options]
#   --config PATH        experiment config (default configs/r8_gat.yaml)
#   --cache PATH         graph cache the reference reads (default: the path
#                        'autoglm prepare --config CONFIG' prints)
#   --ranks N            data-parallel ranks (default 2)
#   --threads N          intra-op threads per rank, both sides (default 1)
#   --warmup-steps N     untimed steps before timing (default 5)
#   --steps N            timed steps per run (default 30)
#   --repeats R          runs of each implementation (default 3)
#   --split KIND         reference share of a global batch: balanced (default,
#                        the same graphs as ours) or strided
#   --reference-malloc-tuned
#                        run the reference with the glibc allocation thresholds
#                        autoglm sets for itself (core/host_runtime.cc), through
#                        MALLOC_*_ environment variables
#   --both-references    run the default and the malloc-tuned reference, as two
#                        implementations, so both ratios come from one run
#   --only-reference     skip ours
#   --embedding-updates LIST
#                        ours once per train.embedding_update value (dense,
#                        sparse, lazy; default dense), as implementations
#                        autoglm (dense) and autoglm-sparse, autoglm-lazy
#   --no-build           do not run 'cmake --build' first
#   --max-load L         before each run, wait (60 s at a time) while the 1-minute
#                        load average is above L (default 1.2; 0 = never wait)
#   --max-wait S         give up waiting after S seconds in total per run and run
#                        anyway, with a warning (default 900)
# Environment:
#   BUILD_DIR   C++ build directory (default build)
#   OUT_DIR     results (default bench-out/ddp): ddp_throughput.csv (one row per
#               run, with load1, busy_cores: the cores other processes used in
#               the 2 s before the run, and other_cores: those they used during
#               it), ddp_throughput.jsonl, logs/
#   PYTHON      interpreter with torch, numpy, yaml (default /usr/bin/python3)
#   MPIRUN      launcher (default mpirun); MPIRUN_ARGS extra launcher arguments
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONFIG=configs/r8_gat.yaml
CACHE=""
RANKS=2
THREADS=1
WARMUP=5
STEPS=30
REPEATS=3
SPLIT=balanced
REF_VARIANTS=(default)
RUN_CPP=1
UPDATES=dense
BUILD=1
MAX_LOAD=1.2
MAX_WAIT=900
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out/ddp}"
PYTHON="${PYTHON:-/usr/bin/python3}"
MPIRUN="${MPIRUN:-mpirun}"
read -r -a EXTRA_MPI <<< "${MPIRUN_ARGS:-}"

die() { echo "ddp_throughput.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }
need_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"; }
need_num() { [[ "$2" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$1 must be a non-negative number, got '$2'"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) need_arg "$@"; CONFIG="$2"; shift 2 ;;
    --cache) need_arg "$@"; CACHE="$2"; shift 2 ;;
    --ranks) need_arg "$@"; need_int "$1" "$2"; RANKS="$2"; shift 2 ;;
    --threads) need_arg "$@"; need_int "$1" "$2"; THREADS="$2"; shift 2 ;;
    --warmup-steps) need_arg "$@"; need_int "$1" "$2"; WARMUP="$2"; shift 2 ;;
    --steps) need_arg "$@"; need_int "$1" "$2"; STEPS="$2"; shift 2 ;;
    --repeats) need_arg "$@"; need_int "$1" "$2"; REPEATS="$2"; shift 2 ;;
    --split) need_arg "$@"; SPLIT="$2"; shift 2 ;;
    --reference-malloc-tuned) REF_VARIANTS=(tuned); shift ;;
    --both-references) REF_VARIANTS=(default tuned); shift ;;
    --only-reference) RUN_CPP=0; shift ;;
    --embedding-updates) need_arg "$@"; UPDATES="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --max-load) need_arg "$@"; need_num "$1" "$2"; MAX_LOAD="$2"; shift 2 ;;
    --max-wait) need_arg "$@"; need_int "$1" "$2"; MAX_WAIT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "ddp_throughput.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
  esac
done
[[ $RANKS -ge 2 ]] || die "--ranks must be >= 2 (data parallel)"
[[ $REPEATS -ge 1 && $STEPS -ge 1 && $THREADS -ge 1 ]] || die "--repeats, --steps and --threads must be >= 1"
[[ "$SPLIT" == balanced || "$SPLIT" == strided ]] || die "--split must be balanced or strided, got '$SPLIT'"
[[ -f "$CONFIG" ]] || die "config '$CONFIG' not found"
command -v "$MPIRUN" > /dev/null || die "'$MPIRUN' not found (install Open MPI or set MPIRUN)"
"$PYTHON" -c 'import torch, torch.distributed as d, numpy, yaml; assert d.is_gloo_available()' 2>/dev/null ||
  die "'$PYTHON' cannot import torch (with gloo), numpy and yaml; install them (Debian: apt-get install -y python3-torch python3-numpy python3-yaml) or set PYTHON"

MPI_ARGS=(-np "$RANKS" --oversubscribe)
[[ "$(id -u)" -eq 0 ]] && MPI_ARGS+=(--allow-run-as-root)
MPI_ARGS+=("${EXTRA_MPI[@]}")

BIN="$BUILD_DIR/benchmarks/dp_step_bench"
AUTOGLM="$BUILD_DIR/launch/autoglm"
mkdir -p "$OUT_DIR/logs"
if [[ $BUILD -eq 1 ]]; then
  # Other people may be mid-edit: retry a failed build twice, a minute apart.
  for attempt in 1 2 3; do
    if cmake --build "$BUILD_DIR" -j"$(nproc)" --target autoglm dp_step_bench > "$OUT_DIR/logs/build.log" 2>&1; then
      break
    fi
    [[ $attempt -lt 3 ]] || { tail -n 20 "$OUT_DIR/logs/build.log" >&2; die "build failed (log: $OUT_DIR/logs/build.log); fix it or use --no-build"; }
    echo "ddp_throughput.sh: build failed (attempt $attempt), retrying in 60 s" >&2
    sleep 60
  done
fi
[[ -x "$AUTOGLM" ]] || die "'$AUTOGLM' not found; build it: cmake --build $BUILD_DIR --target autoglm dp_step_bench"
[[ $RUN_CPP -eq 0 || -x "$BIN" ]] || die "'$BIN' not found; build it: cmake --build $BUILD_DIR --target dp_step_bench"

if [[ -z "$CACHE" ]]; then
  # The cache the C++ side trains on ('autoglm prepare' builds it if needed).
  prep_out="$("$AUTOGLM" prepare --config "$CONFIG" 2> "$OUT_DIR/logs/prepare.log")" || {
    tail -n 20 "$OUT_DIR/logs/prepare.log" >&2; die "'$AUTOGLM prepare --config $CONFIG' failed"; }
  CACHE="$(printf '%s\n' "$prep_out" | grep -E '\.graphs$' | tail -n 1 || true)"
  [[ -n "$CACHE" ]] || die "'$AUTOGLM prepare' printed no cache path (stdout: $prep_out)"
fi
[[ -f "$CACHE" ]] || die "graph cache '$CACHE' not found"

# Cores used by other processes over 2 s (from /proc/stat), just before a run.
busy_cores() {
  "$PYTHON" - <<'EOF'
import time
def snap():
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(2); t1, i1 = snap()
import os
print(f"{(1 - (i1 - i0) / max(1, t1 - t0)) * os.cpu_count():.2f}")
EOF
}
load1() { cut -d' ' -f1 /proc/loadavg; }
# Interference during a run: CPU seconds the machine spent (user+nice+system,
# /proc/stat) minus those of this shell's finished children ('times'; the
# run's processes roll up into them), over the run's wall time.
machine_cpu_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4) / hz; exit }' /proc/stat; }
children_cpu_s() {  # sets CHILD_CPU; call it directly ('times' in a $(...) or a pipe sees a fresh subshell)
  times > "$OUT_DIR/logs/.times"
  CHILD_CPU="$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
                                printf "%.2f", s }' "$OUT_DIR/logs/.times")"
}
wait_quiet() {  # label
  local waited=0 l
  [[ "$MAX_LOAD" == 0 ]] && return 0
  while l="$(load1)"; awk -v l="$l" -v m="$MAX_LOAD" 'BEGIN { exit !(l > m) }'; do
    if (( waited >= MAX_WAIT )); then
      echo "ddp_throughput.sh: warning: load $l still above $MAX_LOAD after ${waited} s; running '$1' anyway (figures will be noisy)" >&2
      return 0
    fi
    echo "ddp_throughput.sh: load $l > $MAX_LOAD, waiting 60 s before '$1'" >&2
    sleep 60; waited=$((waited + 60))
  done
}

JSONL="$OUT_DIR/ddp_throughput.jsonl"
CSV="$OUT_DIR/ddp_throughput.csv"
: > "$JSONL"

run_one() {  # impl repeat
  local impl="$1" rep="$2" log="$OUT_DIR/logs/$1.$2" line load busy port m0 m1 c0 c1 t0 t1 other
  local -a cmd
  wait_quiet "$impl"
  busy="$(busy_cores)"
  load="$(load1)"
  case "$impl" in
    autoglm|autoglm-*)
      local update=dense
      [[ "$impl" == autoglm-* ]] && update="${impl#autoglm-}"
      cmd=( "$MPIRUN" "${MPI_ARGS[@]}" "$BIN" --config "$CONFIG" --compressors none --modes overlap
            --embedding-updates "$update"
            --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS" --rounds 1 ) ;;
    pytorch-ddp-gloo|pytorch-ddp-gloo+malloc)
      port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      local -a env_args=(-x MASTER_ADDR=127.0.0.1 -x MASTER_PORT="$port" -x GLOO_SOCKET_IFNAME="${GLOO_SOCKET_IFNAME:-lo}")
      if [[ "$impl" == *+malloc ]]; then
        env_args+=(-x MALLOC_MMAP_THRESHOLD_=1073741824 -x MALLOC_TRIM_THRESHOLD_=1073741824 -x MALLOC_TOP_PAD_=67108864)
      fi
      cmd=( "$MPIRUN" "${MPI_ARGS[@]}" "${env_args[@]}" "$PYTHON" -W ignore benchmarks/reference/ddp_reference.py
            --config "$CONFIG" --cache "$CACHE" --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS"
            --split "$SPLIT" ) ;;
  esac
  echo "[$rep/$REPEATS] $impl (load $load, other processes $busy cores): ${cmd[*]}" >&2
  m0="$(machine_cpu_s)"; children_cpu_s; c0="$CHILD_CPU"; t0="$(date +%s.%N)"
  if ! "${cmd[@]}" > "$log.out" 2> "$log.err"; then
    echo "--- last lines of $log.err ---" >&2; tail -n 20 "$log.err" >&2
    die "$impl run $rep failed (logs: $log.out, $log.err)"
  fi
  m1="$(machine_cpu_s)"; children_cpu_s; c1="$CHILD_CPU"; t1="$(date +%s.%N)"
  other="$(awk -v a="$m0" -v b="$m1" -v c="$c0" -v d="$c1" -v s="$t0" -v e="$t1" \
    'BEGIN { o = ((b - a) - (d - c)) / (e - s); printf "%.2f", (o < 0 ? 0 : o) }')"
  line="$(grep -E '^\{.*\}\s*$' "$log.out" | tail -n 1 || true)"
  [[ -n "$line" ]] || die "$impl run $rep printed no JSON line (stdout: $log.out, stderr: $log.err)"
  "$PYTHON" - "$line" "$impl" "$rep" "$load" "$busy" "$THREADS" "$STEPS" "$other" >> "$JSONL" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
if not isinstance(r.get("graphs_per_s"), (int, float)):
    sys.exit(f"no numeric graphs_per_s in {sys.argv[1]}")
r["impl"] = sys.argv[2]
r["repeat"] = int(sys.argv[3])
r["load1"] = float(sys.argv[4])
r["busy_cores"] = float(sys.argv[5])
r["other_cores"] = float(sys.argv[8])
# dp_step_bench does not echo these: the values it was run with.
r.setdefault("threads", int(sys.argv[6]))
r.setdefault("steps", int(sys.argv[7]))
r.setdefault("graphs", round(r["graphs_per_s"] * r["step_ms"] * r["steps"] / 1e3))
print(json.dumps(r))
print(f"        {r['graphs_per_s']:.1f} graphs/s, {r['step_ms']:.1f} ms/step; other processes used "
      f"~{r['other_cores']:.2f} cores meanwhile", file=sys.stderr)
EOF
}

IMPLS=()
if [[ $RUN_CPP -eq 1 ]]; then
  for u in ${UPDATES//,/ }; do
    case "$u" in
      dense) IMPLS+=(autoglm) ;;
      sparse|lazy) IMPLS+=("autoglm-$u") ;;
      *) die "--embedding-updates: '$u' is not dense, sparse or lazy" ;;
    esac
  done
fi
for v in "${REF_VARIANTS[@]}"; do
  if [[ "$v" == tuned ]]; then IMPLS+=(pytorch-ddp-gloo+malloc); else IMPLS+=(pytorch-ddp-gloo); fi
done
echo "ddp_throughput.sh: config $CONFIG, $RANKS ranks x $THREADS threads, warm-up $WARMUP, steps $STEPS, repeats $REPEATS, split $SPLIT" >&2
echo "ddp_throughput.sh: reference reads $CACHE" >&2
n=${#IMPLS[@]}
for ((r = 1; r <= REPEATS; r++)); do
  for ((i = 0; i < n; i++)); do run_one "${IMPLS[$(( (i + r - 1) % n ))]}" "$r"; done
done

"$PYTHON" - "$JSONL" "$CSV" <<'EOF'
import csv, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cols = ["impl", "repeat", "graphs_per_s", "step_ms", "ranks", "threads", "steps", "graphs", "load1", "busy_cores",
        "other_cores"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(float(r["graphs_per_s"]))
print(f"{'impl':<24} {'runs':>4} {'graphs/s median':>16} {'min':>10} {'max':>10}")
med = {}
for impl, v in by.items():
    med[impl] = statistics.median(v)
    print(f"{impl:<24} {len(v):>4} {med[impl]:>16.1f} {min(v):>10.1f} {max(v):>10.1f}")
for ref in ("pytorch-ddp-gloo", "pytorch-ddp-gloo+malloc"):
    for ours in ("autoglm", "autoglm-sparse", "autoglm-lazy"):
        if ours in med and med.get(ref, 0) > 0:
            print(f"ratio {ours} / {ref} (medians): {med[ours] / med[ref]:.2f}x")
loads = [r["load1"] for r in rows]
busy = [r["busy_cores"] for r in rows]
other = [r["other_cores"] for r in rows]
print(f"load1 before runs: {min(loads):.2f}-{max(loads):.2f}; cores other processes used: "
      f"{min(busy):.2f}-{max(busy):.2f} just before runs, {min(other):.2f}-{max(other):.2f} during them")
print(f"per-run results: {sys.argv[2]}")
EOF
