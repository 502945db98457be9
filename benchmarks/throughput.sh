#!/usr/bin/env bash
# Training throughput (graphs/s) of Open-AutoGLM against a PyTorch reference of
# the same model, graphs and batching (benchmarks/reference/gat_reference.py),
# side by side in one run.
#
# The two are run alternately, --repeats times each (the order flips every
# repeat), so that noise on a shared machine hits both alike; the table shows
# median, min and max graphs/s per implementation and the ratio of the medians.
#
# Usage: benchmarks/throughput.sh [options]
#   --config PATH        experiment config (default configs/r8_gat.yaml)
#   --cache PATH         graph cache the reference reads (default: the path
#                        '$BUILD_DIR/launch/autoglm prepare --config CONFIG'
#                        prints, building the cache if needed; without that
#                        binary, the newest *.graphs in the cache directory)
#   --threads N          intra-op threads for both (default 2)
#   --warmup-steps N     untimed steps before timing (default 5)
#   --steps N            timed training steps per run (default 50)
#   --repeats R          runs of each implementation (default 3)
#   --only-reference     skip the C++ binary
#   --only-autoglm       skip the PyTorch reference
#   --embedding-updates LIST
#                        ours once per train.embedding_update value (dense,
#                        sparse, lazy; default dense), as implementations
#                        autoglm (dense), autoglm-sparse and autoglm-lazy
#   --reference-malloc-tuned
#                        run the reference with the same glibc allocation
#                        thresholds autoglm sets for itself (core/host_runtime.cc),
#                        through MALLOC_*_ environment variables, to separate
#                        that gain from the kernels'
# Environment:
#   BUILD_DIR   C++ build directory (default build)
#   OUT_DIR     where results go (default bench-out): throughput.csv (one row
#               per run), throughput.jsonl (raw JSON lines), logs/
#   PYTHON      interpreter with torch, numpy, yaml (default: /usr/bin/python3
#               if it has torch, else python3)
#   CACHE_DIR   look for the newest *.graphs here instead of asking autoglm
#               (default when autoglm is not built: data.cache_dir of the
#               config, else .autoglm_cache)
#   Both children inherit the environment, so e.g. OMP_WAIT_POLICY=PASSIVE
#   applies to both.
# Noise: on a busy machine, OpenMP threads that spin at barriers while other
# processes hold the cores make multi-threaded runs several times slower, for
# both implementations (they share libtorch's OpenMP runtime). The 1-minute
# load average before each run is recorded in the CSV (load1), and a warning is
# printed when the machine is busy; compare figures from quiet runs only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONFIG=configs/r8_gat.yaml
CACHE="${CACHE:-}"
THREADS=2
WARMUP=5
STEPS=50
REPEATS=3
RUN_CPP=1
RUN_REF=1
BUILD_DIR="${BUILD_DIR:-build}"
OUT_DIR="${OUT_DIR:-bench-out}"
CACHE_DIR="${CACHE_DIR:-}"

die() { echo "throughput.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }
need_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"; }

REF_ENV=()
UPDATES=dense
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) need_arg "$@"; CONFIG="$2"; shift 2 ;;
    --cache) need_arg "$@"; CACHE="$2"; shift 2 ;;
    --threads) need_arg "$@"; need_int "$1" "$2"; THREADS="$2"; shift 2 ;;
    --warmup-steps) need_arg "$@"; need_int "$1" "$2"; WARMUP="$2"; shift 2 ;;
    --steps) need_arg "$@"; need_int "$1" "$2"; STEPS="$2"; shift 2 ;;
    --repeats) need_arg "$@"; need_int "$1" "$2"; REPEATS="$2"; shift 2 ;;
    --only-reference) RUN_CPP=0; shift ;;
    --only-autoglm) RUN_REF=0; shift ;;
    --embedding-updates) need_arg "$@"; UPDATES="$2"; shift 2 ;;
    --reference-malloc-tuned) REF_ENV=(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864); shift ;;
    -h|--help) usage 0 ;;
    *) echo "throughput.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
  esac
done
[[ $RUN_CPP -eq 1 || $RUN_REF -eq 1 ]] || die "--only-reference and --only-autoglm exclude each other"
[[ $REPEATS -ge 1 ]] || die "--repeats must be >= 1"
[[ $STEPS -ge 1 ]] || die "--steps must be >= 1"
[[ $THREADS -ge 1 ]] || die "--threads must be >= 1"
[[ -f "$CONFIG" ]] || die "config '$CONFIG' not found"

BIN="$BUILD_DIR/benchmarks/train_throughput"
PREPARE="$BUILD_DIR/launch/autoglm prepare --config $CONFIG"

if [[ $RUN_CPP -eq 1 ]]; then
  [[ -x "$BIN" ]] || die "C++ benchmark '$BIN' not found or not executable; build it first:
  cmake --build $BUILD_DIR --target train_throughput
(or run with --only-reference)"
fi

mkdir -p "$OUT_DIR/logs"
if [[ $RUN_REF -eq 1 ]]; then
  if [[ -z "${PYTHON:-}" ]]; then
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
  fi
  "$PYTHON" -c 'import torch, numpy, yaml' 2>/dev/null ||
    die "'$PYTHON' cannot import torch, numpy and yaml; install them (Debian: apt-get install -y python3-torch python3-numpy python3-yaml) or set PYTHON"
  if [[ -z "$CACHE" && -z "$CACHE_DIR" && -x "$BUILD_DIR/launch/autoglm" ]]; then
    # The cache the C++ side trains on: 'autoglm prepare' prints its path (the
    # name carries a fingerprint of data and graph settings) and builds it if
    # it is missing or stale.
    echo "throughput.sh: $PREPARE" >&2
    prep_out="$("$BUILD_DIR/launch/autoglm" prepare --config "$CONFIG" 2> "$OUT_DIR/logs/prepare.log")" || {
      tail -n 20 "$OUT_DIR/logs/prepare.log" >&2; die "'$PREPARE' failed (log: $OUT_DIR/logs/prepare.log)"; }
    CACHE="$(printf '%s\n' "$prep_out" | grep -E '\.graphs$' | tail -n 1 || true)"
    [[ -n "$CACHE" ]] || die "'$PREPARE' printed no cache path (stdout: $prep_out)"
  fi
  if [[ -z "$CACHE" ]]; then
    # No autoglm binary (or CACHE_DIR given): fall back to the newest cache.
    if [[ -z "$CACHE_DIR" ]]; then
      CACHE_DIR="$("$PYTHON" -c 'import sys, yaml
d = (yaml.safe_load(open(sys.argv[1])) or {}).get("data") or {}
print(d.get("cache_dir") or ".autoglm_cache")' "$CONFIG")" || die "cannot read data.cache_dir from $CONFIG"
    fi
    shopt -s nullglob
    caches=( "$CACHE_DIR"/*.graphs )
    shopt -u nullglob
    [[ ${#caches[@]} -gt 0 ]] || die "no graph cache (*.graphs) in '$CACHE_DIR'; create it with:
  $PREPARE
(or pass --cache PATH)"
    CACHE="$(ls -t "${caches[@]}" | head -n 1)"
    if [[ ${#caches[@]} -gt 1 ]]; then
      echo "throughput.sh: warning: ${#caches[@]} graph caches in '$CACHE_DIR' and no $BUILD_DIR/launch/autoglm to ask which one $CONFIG uses; taking the newest, $CACHE (pass --cache to choose)" >&2
    fi
  fi
  [[ -f "$CACHE" ]] || die "graph cache '$CACHE' not found; create it with:
  $PREPARE"
fi

JSONL="$OUT_DIR/throughput.jsonl"
CSV="$OUT_DIR/throughput.csv"
: > "$JSONL"

run_one() {  # impl repeat
  local impl="$1" rep="$2" log="$OUT_DIR/logs/$1.$2.log" load line
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '')"
  local -a cmd
  if [[ "$impl" == autoglm* ]]; then
    local update=dense
    [[ "$impl" == autoglm-* ]] && update="${impl#autoglm-}"
    cmd=( "$BIN" --config "$CONFIG" --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS"
          --set train.embedding_update="$update" )
  else
    cmd=( env "${REF_ENV[@]}" "$PYTHON" -W ignore benchmarks/reference/gat_reference.py --config "$CONFIG" --cache "$CACHE"
          --threads "$THREADS" --warmup-steps "$WARMUP" --steps "$STEPS" )
  fi
  echo "[$rep/$REPEATS] $impl: ${cmd[*]}" >&2
  [[ $rep -eq 1 && "$impl" == "${FIRST_IMPL:-}" ]] && busy_check "$impl"
  if ! "${cmd[@]}" > "$log.out" 2> "$log"; then
    echo "--- last lines of $log ---" >&2; tail -n 20 "$log" >&2
    die "$impl run $rep failed (full log: $log)"
  fi
  # The result is the last line of stdout that is a JSON object.
  line="$(grep -E '^\{.*\}\s*$' "$log.out" | tail -n 1 || true)"
  [[ -n "$line" ]] || die "$impl run $rep printed no JSON line (stdout: $log.out, stderr: $log)"
  "$PYTHON_JSON" - "$line" "$rep" "$load" "$impl" >> "$JSONL" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
if sys.argv[4].startswith("autoglm"):
    r["impl"] = sys.argv[4]
if not isinstance(r.get("graphs_per_s"), (int, float)):
    sys.exit(f"no numeric graphs_per_s in {sys.argv[1]}")
r["repeat"] = int(sys.argv[2])
r["load1"] = float(sys.argv[3]) if sys.argv[3] else None
print(json.dumps(r))
print(f"        {r['graphs_per_s']:.1f} graphs/s ({r.get('graphs')} graphs in {r.get('seconds')} s)",
      file=sys.stderr)
EOF
}

# Any python3 can parse JSON; prefer the one found above.
PYTHON_JSON="${PYTHON:-python3}"

NCPU="$(nproc 2>/dev/null || echo 1)"
busy_check() {
  local load
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
  if awk -v l="$load" -v n="$NCPU" 'BEGIN { exit !(l > n * 0.5) }'; then
    echo "throughput.sh: warning: load average $load on $NCPU cores before '$1'; other work competes for the cores, figures will be noisy" >&2
  fi
}
echo "throughput.sh: config $CONFIG, threads $THREADS, warm-up $WARMUP, steps $STEPS, repeats $REPEATS" >&2
[[ $RUN_REF -eq 1 ]] && echo "throughput.sh: reference reads $CACHE" >&2
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
[[ $RUN_REF -eq 1 ]] && IMPLS+=(reference)
FIRST_IMPL="${IMPLS[0]}"
# The order rotates every repeat, so that no implementation always runs first.
for ((r = 1; r <= REPEATS; r++)); do
  n=${#IMPLS[@]}
  for ((i = 0; i < n; i++)); do run_one "${IMPLS[$(( (i + r - 1) % n ))]}" "$r"; done
done

"$PYTHON_JSON" - "$JSONL" "$CSV" <<'EOF'
import csv, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cols = ["impl", "repeat", "graphs_per_s", "steps", "graphs", "seconds", "threads", "load1"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(float(r["graphs_per_s"]))
print(f"{'impl':<20} {'runs':>4} {'graphs/s median':>16} {'min':>10} {'max':>10}")
med = {}
for impl, v in by.items():
    med[impl] = statistics.median(v)
    print(f"{impl:<20} {len(v):>4} {med[impl]:>16.1f} {min(v):>10.1f} {max(v):>10.1f}")
for ours in ("autoglm", "autoglm-sparse", "autoglm-lazy"):
    if ours in med and "pytorch-reference" in med and med["pytorch-reference"] > 0:
        print(f"ratio {ours} / pytorch-reference (medians): {med[ours] / med['pytorch-reference']:.2f}x")
# Where the time goes: median ms per step of each phase (both sides time the
# same points: collate | forward+loss | backward | clip+LR+optimizer step).
phases = ["collate", "forward", "backward", "optimizer"]
lines = []
for impl in by:
    per = {p: [] for p in phases}
    for r in rows:
        ps = r.get("phase_seconds") or {}
        if r["impl"] == impl and all(p in ps for p in phases) and r.get("steps"):
            for p in phases:
                per[p].append(1e3 * float(ps[p]) / float(r["steps"]))
    if per["collate"]:
        lines.append(f"{impl:<20} " + " ".join(f"{statistics.median(per[p]):>10.2f}" for p in phases))
if lines:
    print(f"{'ms/step (median)':<20} " + " ".join(f"{p:>10}" for p in phases))
    print("\n".join(lines))
print(f"per-run results: {sys.argv[2]}")
EOF
