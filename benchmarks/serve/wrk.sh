#!/usr/bin/env bash
# Load test of `autoglm serve` with Debian's wrk, over loopback only, bounded
# in time (about 2 minutes with the defaults):
#   1. throughput and latency (p50, p99) of POST /v1/classify, one R8 test
#      document per request (rotating over --num-texts of them, result cache
#      off so that every request reaches the model), at 64 and 1,024 open
#      connections (wrk -c), each --duration-s seconds;
#   2. --idle (2,000) idle connections held open (idle_connections.py) while
#      GET /healthz is timed --probes times on a fresh connection each
#      (curl), against the server's default serve.max_connections;
#   3. the same with serve.max_connections=--idle/2, so that half of the idle
#      connections are over the limit: /healthz must still answer, and the
#      server's log must hold no line per refused connection;
#   4. the same with the server's open-file limit at --server-fd-limit (1024,
#      a common default; serve.max_connections follows it), the case in which
#      the idle connections used to exhaust the server's descriptors.
# Prints one "== result:" line per figure.
#
#   benchmarks/serve/wrk.sh [options]
#     --checkpoint DIR   checkpoint (default: train one, 2 epochs of configs/r8_gat.yaml, into a temp dir)
#     --train-set K=V    extra --set for that training (repeatable)
#     --build DIR        build tree with launch/autoglm (default: build)
#     --duration-s S     10 (per wrk run); --connections LIST: "64 1024"; --threads N: 2 (wrk threads)
#     --idle N           2000; --probes N: 20; --num-texts N: 100; --server-fd-limit N: 1024
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
checkpoint="" build="$root/build" duration=10 connections="64 1024" wrk_threads=2 idle=2000 probes=20 num_texts=100
server_fd_limit=1024 train_sets=()
die() { echo "wrk.sh: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --train-set) train_sets+=(--set "$2"); shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --duration-s) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) wrk_threads="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --probes) probes="$2"; shift 2 ;;
    --num-texts) num_texts="$2"; shift 2 ;;
    --server-fd-limit) server_fd_limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help lists them)" ;;
  esac
done
autoglm="$build/launch/autoglm"
[[ -x "$autoglm" ]] || die "missing $autoglm (cmake --build $build --target autoglm, or --build DIR)"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk; scripts/setup-deps.sh)"
command -v curl >/dev/null || die "curl not installed"

# Each connection is a descriptor on both sides: raise the soft limit as far as the hard one allows.
hard="$(ulimit -Hn)"
want=65536
[[ "$hard" != unlimited && "$hard" -lt $want ]] && want="$hard"
ulimit -n "$want" 2>/dev/null || true
echo "== open-file limit (ulimit -n): $(ulimit -n); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

tmp="$(mktemp -d)"
server_pid="" holder_pid=""
cleanup() {
  [[ -n "$holder_pid" ]] && kill "$holder_pid" 2>/dev/null || true
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z "$checkpoint" ]]; then
  echo "== training a checkpoint (2 epochs of configs/r8_gat.yaml${train_sets[*]:+ ${train_sets[*]}}) into $tmp/run"
  (cd "$root" && timeout 900 "$autoglm" train configs/r8_gat.yaml --set train.epochs=2 --set run.out_dir="$tmp/run" \
      --set data.cache_dir="$tmp/cache" "${train_sets[@]}") > "$tmp/train.log" 2>&1 || { tail -20 "$tmp/train.log" >&2; die "training failed"; }
  checkpoint="$tmp/run/checkpoints/best"
fi
[[ -d "$checkpoint" ]] || die "--checkpoint $checkpoint: not a directory"

# The request bodies: the first N R8 test documents, one per request, as JSON (python3 for the escaping).
python3 - "$root/data/r8" "$num_texts" > "$tmp/bodies.lua" <<'PY'
import json, sys
root, n = sys.argv[1], int(sys.argv[2])
split = [l.rstrip("\n").split("\t")[1] for l in open(f"{root}/labels.txt")]
docs = [d.strip() for d, s in zip(open(f"{root}/corpus.clean.txt"), split) if s == "test" and d.strip()][:n]
print("bodies = {")
for d in docs:
    print("  " + json.dumps(json.dumps({"texts": [d]})) + ",")
print("}")
PY
cat >> "$tmp/bodies.lua" <<'LUA'
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/classify", {["Content-Type"] = "application/json"}, bodies[i])
end
LUA

url=""
fd_limit=""  # the server's open-file limit, when set
start_server() {  # extra --set arguments
  : > "$tmp/server.out"  # before the child opens it: no stale "serving on" line
  (if [[ -n "$fd_limit" ]]; then ulimit -n "$fd_limit"; fi
   exec "$autoglm" serve --checkpoint "$checkpoint" --host 127.0.0.1 --port 0 --set serve.cache_entries=0 "$@") \
    > "$tmp/server.out" 2> "$tmp/server.err" &
  server_pid=$!
  local i
  for ((i = 0; i < 600; i++)); do
    url="$(awk '$1 == "serving" && $2 == "on" { print $3; exit }' "$tmp/server.out")"
    [[ -n "$url" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; die "the server exited before listening"; }
    sleep 0.1
  done
  die "the server printed no 'serving on' line within 60 s"
}
stop_server() {
  kill -TERM "$server_pid"
  timeout 40 tail --pid="$server_pid" -f /dev/null || kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# /healthz timed --probes times, a fresh connection each: "median max failures" in ms.
probe_healthz() {
  local i t codes=""
  : > "$tmp/probe.txt"
  for ((i = 0; i < probes; i++)); do
    out="$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "$url/healthz" || true)"
    echo "$out" >> "$tmp/probe.txt"
    sleep 0.05
  done
  awk '$1 == 200 { print $2 * 1000 }' "$tmp/probe.txt" | sort -n > "$tmp/ok.txt"
  local n bad
  n="$(wc -l < "$tmp/ok.txt")"
  bad=$((probes - n))
  if ((n == 0)); then echo "no probe answered 200 ($probes tried)"; return; fi
  awk -v n="$n" -v bad="$bad" -v all="$probes" '{ ms[NR] = $1 }
    END { printf "median %.2f ms, max %.2f ms over %d probes (%d not 200)\n", ms[int((n + 1) / 2)], ms[n], all, bad }' \
    "$tmp/ok.txt"
}

idle_phase() {  # label, then extra --set arguments
  local label="$1"; shift
  start_server "$@"
  python3 "$here/idle_connections.py" --port "${url##*:}" --count "$idle" --hold-s 60 > "$tmp/holder.out" &
  holder_pid=$!
  for ((i = 0; i < 300; i++)); do grep -q holding "$tmp/holder.out" && break; sleep 0.1; done
  sleep 0.5
  echo "   $(head -1 "$tmp/holder.out")"
  local open over
  open="$(curl -s -m 5 "$url/metrics" | awk '$1 == "autoglm_connections_open" { print $2 }')"
  echo "   $(grep -o 'serving up to .*' "$tmp/server.err" | head -1)"
  echo "== result: $label: /healthz with $idle idle connections held ($open open at the server): $(probe_healthz)"
  over="$(grep -c 'over serve.max_connections' "$tmp/server.err" || true)"
  echo "   server log: $(wc -l < "$tmp/server.err") lines, $over of them about connections over serve.max_connections, $(grep -c 'accept failed' "$tmp/server.err" || true) about failed accepts"
  kill "$holder_pid" 2>/dev/null || true
  wait "$holder_pid" 2>/dev/null || true
  holder_pid=""
  stop_server
}

echo "== checkpoint $checkpoint; $(grep -c '^  "' "$tmp/bodies.lua") request bodies (R8 test documents); wrk $duration s per run"
start_server
echo "   $url (pid $server_pid)"
timeout 60 wrk -t1 -c8 -d2s -s "$tmp/bodies.lua" "$url" > /dev/null  # warm-up
for c in $connections; do
  t=$(( wrk_threads < c ? wrk_threads : c ))
  timeout $((duration + 60)) wrk -t"$t" -c"$c" -d"${duration}s" --timeout 10s --latency -s "$tmp/bodies.lua" "$url" \
    > "$tmp/wrk.txt" 2>&1 || true
  sed 's/^/   /' "$tmp/wrk.txt"
  awk -v c="$c" '
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    /Non-2xx/ { non2xx = $NF }
    /Socket errors/ { errors = $0; sub(/^ *Socket errors: */, "", errors) }
    END { printf "== result: wrk %d connections: %s requests/s, p50 %s, p99 %s, non-2xx %d, socket errors: %s\n",
                 c, rps, p50, p99, non2xx, (errors == "" ? "none" : errors) }' "$tmp/wrk.txt"
done
stop_server

idle_phase "default serve.max_connections"
idle_phase "serve.max_connections=$((idle / 2))" --set serve.max_connections=$((idle / 2))
fd_limit="$server_fd_limit"
idle_phase "server at ulimit -n $server_fd_limit, default serve.max_connections"
