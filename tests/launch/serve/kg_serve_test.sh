#!/usr/bin/env bash
# `autoglm serve` and `autoglm eval` on a kg_completion checkpoint, end to
# end: a tiny names-form graph (autoglm generate kg), one short training run,
# eval's JSON line (equal to the run's own test ranking), then the server on
# a free port checked with curl: a tail and a head query, filter on and off
# differing on a known answer, 400 naming an unknown entity and relation,
# 400 for k out of range, 404 for /v1/classify, the /metrics counts, and
# --set kg.data_dir overriding the checkpoint's graph. With mpirun, the same
# for a checkpoint written at parallel.tp=2 (read back on one process).
#   kg_serve_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_kg_serve_test.XXXXXX)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "kg_serve_test: $*" >&2; [[ -f "$work/server.log" ]] && tail -20 "$work/server.log" >&2; exit 1; }
expect() {  # expect TEXT NEEDLE
  [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"
}
# json FILE_OR_TEXT PYTHON_EXPR: prints the expression over the parsed JSON `j`.
json() { python3 -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"; }

"$autoglm" generate kg --out "$work/kg" --entities 200 --relations 5 --max-degree 50 --names --seed 2 >/dev/null
train() {  # train OUT_DIR [--set K=V ...] [launcher...]
  local out=$1 sets=(); shift
  while [[ $# -gt 0 && $1 == --set ]]; do sets+=("$1" "$2"); shift 2; done
  "$@" "$autoglm" train "$src/configs/wn18rr_complex.yaml" --set kg.data_dir="$work/kg" --set kg.dim=16 \
    --set kg.batch=128 --set train.epochs=2 --set run.threads=1 --set run.out_dir="$out" "${sets[@]}" >"$out.log" 2>&1 \
    || { tail -20 "$out.log" >&2; fail "training into $out failed"; }
  [[ -d "$out/checkpoints/best" ]] || fail "no best checkpoint in $out"
}
train "$work/run"

# eval: one JSON line, the same test ranking the run wrote at its end.
check_eval() {  # check_eval RUN_DIR
  local line
  line=$("$autoglm" eval --checkpoint "$1" 2>"$work/eval.err") || { cat "$work/eval.err" >&2; fail "eval of $1 failed"; }
  [[ $(printf '%s\n' "$line" | wc -l) -eq 1 ]] || fail "eval printed more than one line: $line"
  for key in mrr mr hits1 hits3 hits10 queries per_relation; do
    [[ $(json "$line" "'$key' in j") == True ]] || fail "eval's line lacks \"$key\": $line"
  done
  local want
  want=$(python3 -c "import json; print(json.load(open('$1/kg_metrics.json'))['test']['mrr'])")
  [[ $(json "$line" "abs(j['mrr'] - $want) < 1e-9 and j['queries'] == 2 * sum(1 for _ in open('$work/kg/test.txt'))") \
     == True ]] || fail "eval's mrr $(json "$line" "j['mrr']") is not the run's test mrr $want (or queries wrong)"
  [[ $(json "$line" "sum(v['queries'] for v in j['per_relation'].values()) == j['queries']") == True ]] \
    || fail "per_relation queries do not add up: $line"
}
check_eval "$work/run"

# A checkpoint whose graph moved: kg.data_dir from --set.
cp -r "$work/kg" "$work/kg-moved"
mv "$work/kg" "$work/kg-gone"
if err=$("$autoglm" eval --checkpoint "$work/run" 2>&1); then fail "eval without the graph succeeded"; fi
expect "$err" "$work/kg"
"$autoglm" eval --checkpoint "$work/run" --set kg.data_dir="$work/kg-moved" >/dev/null || fail "eval with --set kg.data_dir failed"

start_server() {  # start_server RUN_DIR: sets server_pid and url
  : >"$work/server.out"
  "$autoglm" serve --checkpoint "$1" --port 0 --set kg.data_dir="$work/kg-moved" --set serve.cache_entries=64 \
    >"$work/server.out" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://[^ ]*' "$work/server.out" 2>/dev/null || true)
    [[ -n "$url" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited before listening"
    sleep 0.2
  done
  fail "no 'serving on' line within 60 s"
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "the server exited with status $?"
  server_pid=""
}
post() {  # post BODY: prints the status line's code, then the body
  curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' --data "$1" "$url/v1/kg/complete"
}

check_server() {  # check_server RUN_DIR
  start_server "$1"
  # A training triple (h, r, t): a known answer of (h, r, ?) and of (?, r, t).
  read -r h r t < <(head -1 "$work/kg-moved/train.txt")

  code=$(post "{\"head\": \"$h\", \"relation\": \"$r\", \"k\": 5}")
  [[ $code == 200 ]] || fail "tail query: $code $(cat "$work/body")"
  body=$(cat "$work/body")
  [[ $(json "$body" "len(j['entities'])") == 5 ]] || fail "tail query: not 5 entities: $body"
  [[ $(json "$body" "j['query'] == {'head': '$h', 'relation': '$r', 'k': 5, 'filter': True} and j['filtered']") == True ]] \
    || fail "tail query echo: $body"
  [[ $(json "$body" "all(e['entity'] == 'e%d' % e['id'] for e in j['entities'])") == True ]] || fail "names: $body"
  [[ $(json "$body" "all(a['score'] >= b['score'] for a, b in zip(j['entities'], j['entities'][1:]))") == True ]] \
    || fail "not best first: $body"

  code=$(post "{\"tail\": \"$t\", \"relation\": \"$r\", \"k\": 3}")
  [[ $code == 200 ]] || fail "head query: $code $(cat "$work/body")"
  [[ $(json "$(cat "$work/body")" "j['query']['tail'] == '$t' and len(j['entities']) == 3") == True ]] \
    || fail "head query: $(cat "$work/body")"

  # Every entity asked for: unfiltered, the known tail t is among them; filtered, it is not.
  post "{\"head\": \"$h\", \"relation\": \"$r\", \"k\": 200, \"filter\": false}" >/dev/null
  off=$(cat "$work/body")
  post "{\"head\": \"$h\", \"relation\": \"$r\", \"k\": 200, \"filter\": true}" >/dev/null
  on=$(cat "$work/body")
  [[ $(json "$off" "'$t' in [e['entity'] for e in j['entities']] and len(j['entities']) == 200 and not j['filtered']") \
     == True ]] || fail "unfiltered: the known answer $t missing: $off"
  [[ $(json "$on" "'$t' not in [e['entity'] for e in j['entities']] and len(j['entities']) < 200") == True ]] \
    || fail "filtered: the known answer $t still there: $on"

  code=$(post "{\"head\": \"no-such-entity\", \"relation\": \"$r\"}")
  [[ $code == 400 ]] || fail "unknown entity: $code"
  expect "$(cat "$work/body")" 'unknown entity \"no-such-entity\"'
  code=$(post "{\"head\": \"$h\", \"relation\": \"no-such-relation\"}")
  [[ $code == 400 ]] || fail "unknown relation: $code"
  expect "$(cat "$work/body")" 'unknown relation \"no-such-relation\"'
  code=$(post "{\"head\": \"$h\", \"relation\": \"$r\", \"k\": 1001}")
  [[ $code == 400 ]] || fail "k 1001: $code"
  expect "$(cat "$work/body")" "out of range 1..1000"
  code=$(post '{"head": ')
  [[ $code == 400 ]] || fail "malformed JSON: $code"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{"texts": ["x"]}' \
    "$url/v1/classify")
  [[ $code == 404 ]] || fail "/v1/classify on a kg server: $code"
  # The first tail query again: from the cache.
  post "{\"head\": \"$h\", \"relation\": \"$r\", \"k\": 5}" >/dev/null
  [[ $(json "$(cat "$work/body")" "j['cached']") == True ]] || fail "not cached: $(cat "$work/body")"

  metrics=$(curl -s "$url/metrics")
  expect "$metrics" 'autoglm_requests_total{status="200"} 5'
  expect "$metrics" 'autoglm_requests_total{status="400"} 4'
  expect "$metrics" 'autoglm_requests_total{status="404"} 1'
  expect "$metrics" 'autoglm_kg_queries_total{side="tail"} 4'
  expect "$metrics" 'autoglm_kg_queries_total{side="head"} 1'
  expect "$metrics" 'autoglm_cache_hits_total 1'
  expect "$metrics" 'autoglm_request_duration_seconds_count 10'
  stop_server
}
check_server "$work/run"

# A checkpoint written at tp=2 (two entity shards), read on one process.
if command -v mpirun >/dev/null; then
  mv "$work/kg-gone" "$work/kg"
  train "$work/run-tp2" --set parallel.tp=2 mpirun -np 2 --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1
  compgen -G "$work/run-tp2/checkpoints/best/entities-tp00-c*.pt" >/dev/null &&
    compgen -G "$work/run-tp2/checkpoints/best/entities-tp01-c*.pt" >/dev/null ||
    fail "the tp=2 run did not write a chunk file per shard"
  check_eval "$work/run-tp2"
  check_server "$work/run-tp2"
fi
echo "kg_serve_test: ok"
