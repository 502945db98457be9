#!/usr/bin/env bash
# Latency and throughput of `autoglm serve` on a FB15k-237 kg_completion
# checkpoint (POST /v1/kg/complete), over loopback:
#   1. one client (wrk -c1): p50 and p99 of a top-10 tail query, rotating over
#      --queries different queries (test triples' heads and relations), the
#      result cache off so that every request is scored by the model;
#   2. 64 clients (wrk -c64): requests/s and p50/p99 of the same queries,
#      batched by the server (serve.max_batch, serve.max_wait_ms).
# Without wrk (Debian's `wrk` package), step 1 is timed with curl instead
# (one process per request: the figures include curl's start-up) and step 2
# is skipped. Prints one "== result:" line per figure.
#
# The checkpoint only needs the shapes of FB15k-237 (14,541 entities, 237
# relations, kg.dim): its quality does not change the cost of a query, so by
# default a short training run makes one (train.max_steps, a few validation
# triples) in a temp dir.
#
#   benchmarks/kg/serve.sh [options]
#     --checkpoint DIR   a kg_completion checkpoint or run dir (default: train one)
#     --data DIR         the graph (default: ../shared/data/fb15k-237 beside the checkout)
#     --build DIR        build tree with launch/autoglm (default: build)
#     --steps N          train.max_steps of that training (100)
#     --duration-s S     10 (per wrk run); --queries N: 200
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
checkpoint="" build="$root/build" steps=100 duration=10 queries=200
data="$root/../shared/data/fb15k-237"
die() { echo "serve.sh: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --duration-s) duration="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help lists them)" ;;
  esac
done
autoglm="$build/launch/autoglm"
[[ -x "$autoglm" ]] || die "missing $autoglm (scripts/build.sh autoglm, or --build DIR)"
[[ -f "$data/train.txt" ]] || die "no FB15k-237 in $data (--data DIR)"
command -v curl >/dev/null || die "curl not installed"
have_wrk=1
command -v wrk >/dev/null || have_wrk=0
echo "== $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); wrk: $([[ $have_wrk == 1 ]] && command -v wrk || echo 'not installed')"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z "$checkpoint" ]]; then
  echo "== training a checkpoint ($steps steps of configs/fb15k237_complex.yaml; its quality does not matter for speed) into $tmp/run"
  t0=$(date +%s)
  (cd "$root" && timeout 1800 "$autoglm" train configs/fb15k237_complex.yaml --set kg.data_dir="$data" \
      --set train.max_steps="$steps" --set train.epochs=1 --set kg.valid_max=200 --set run.out_dir="$tmp/run") \
    > "$tmp/train.log" 2>&1 || { tail -20 "$tmp/train.log" >&2; die "training failed"; }
  echo "   trained in $(( $(date +%s) - t0 )) s"
  checkpoint="$tmp/run"
fi

# Request bodies: top-10 tail queries of the first N test triples (names as in the dataset).
python3 - "$data/test.txt" "$queries" > "$tmp/bodies.lua" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
lines = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()][:n]
print("bodies = {")
for h, r, t in lines:
    print("  " + json.dumps(json.dumps({"head": h, "relation": r, "k": 10})) + ",")
print("}")
PY
cat >> "$tmp/bodies.lua" <<'LUA'
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/kg/complete", {["Content-Type"] = "application/json"}, bodies[i])
end
LUA

: > "$tmp/server.out"
"$autoglm" serve --checkpoint "$checkpoint" --host 127.0.0.1 --port 0 --set kg.data_dir="$data" \
  --set serve.cache_entries=0 > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
url=""
for ((i = 0; i < 1200; i++)); do
  url="$(awk '$1 == "serving" && $2 == "on" { print $3; exit }' "$tmp/server.out")"
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; die "the server exited before listening"; }
  sleep 0.1
done
[[ -n "$url" ]] || die "the server printed no 'serving on' line within 120 s"
grep -o 'kg_completion model .*' "$tmp/server.err" | head -1 | sed 's/^/   /'
first="$(sed -n 2p "$tmp/bodies.lua" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().rstrip(",")))')"
code="$(curl -s -o "$tmp/one.json" -w '%{http_code}' -H 'Content-Type: application/json' --data "$first" "$url/v1/kg/complete")"
[[ "$code" == 200 ]] || die "a query got $code: $(cat "$tmp/one.json")"
echo "   $first -> $(head -c 300 "$tmp/one.json")..."

wrk_run() {  # connections
  local c="$1" t=$(( $1 < 2 ? 1 : 2 ))
  timeout $((duration + 60)) wrk -t"$t" -c"$c" -d"${duration}s" --timeout 10s --latency -s "$tmp/bodies.lua" "$url" \
    > "$tmp/wrk.txt" 2>&1 || true
  sed 's/^/   /' "$tmp/wrk.txt"
  awk -v c="$c" '
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    /Non-2xx/ { non2xx = $NF }
    END { printf "== result: wrk %d connection(s), top-10 queries, cache off: %s requests/s, p50 %s, p99 %s, non-2xx %d\n",
                 c, rps, p50, p99, non2xx }' "$tmp/wrk.txt"
}

if [[ $have_wrk == 1 ]]; then
  timeout 60 wrk -t1 -c4 -d2s -s "$tmp/bodies.lua" "$url" > /dev/null  # warm-up
  wrk_run 1
  wrk_run 64
else
  python3 - "$tmp/bodies.lua" > "$tmp/bodies.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith('"'):
        print(json.loads(line.rstrip(",")))
PY
  : > "$tmp/times.txt"
  end=$(( $(date +%s) + duration ))
  while (( $(date +%s) < end )); do
    while IFS= read -r body && (( $(date +%s) < end )); do
      curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' --data "$body" \
        "$url/v1/kg/complete" >> "$tmp/times.txt"
    done < "$tmp/bodies.txt"
  done
  sort -n "$tmp/times.txt" | awk '{ t[NR] = $1 * 1000 } END {
    printf "== result: curl, 1 client, top-10 queries, cache off: %d requests, p50 %.2f ms, p99 %.2f ms\n",
           NR, t[int(NR * 0.5) + 1], t[int(NR * 0.99) + 1] }'
  echo "== result: 64 clients: skipped (wrk not installed)"
fi
curl -s "$url/metrics" | grep -E '^autoglm_(batch_size_(sum|count)|requests_total)' | sed 's/^/   /'
