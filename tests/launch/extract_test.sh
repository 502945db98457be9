#!/usr/bin/env bash
# `autoglm extract` end to end on the first 300 R8 documents: the five files
# of the knowledge-graph layout, ids 0..N-1, every name of a triple in the
# dicts, no triple twice, valid/test entities in train; then errors: a missing
# corpus, a line that is not UTF-8, a non-empty output directory. And the
# text-to-answers path: the extracted graph trains (model.kind: kg_completion),
# its checkpoint evaluates, and a served query about an extracted entity answers.
#   extract_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_extract_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "extract_test: $*" >&2; exit 1; }
expect() {  # expect TEXT NEEDLE
  [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"
}

out=$("$autoglm" extract --corpus "$src/data/r8/corpus.txt" --out "$work/kg" --max-docs 300 --threads 2 \
      --valid-fraction 0.05 --test-fraction 0.05 --seed 1 2>/dev/null)
expect "$out" "extract: 300 documents, "
for f in entities.dict relations.dict train.txt valid.txt test.txt; do
  [[ -f "$work/kg/$f" ]] || fail "$f missing"
done
[[ -s "$work/kg/train.txt" ]] || fail "train.txt is empty"
# ids 0..N-1 in order, names unique, no tab or CR inside a name.
for d in entities relations; do
  awk -F'\t' -v f="$d.dict" 'NF != 2 || $1 != NR - 1 || seen[$2]++ || $2 ~ /\r/ {
      print f ": bad line " NR ": " $0; bad = 1 } END { exit bad }' "$work/kg/$d.dict" || fail "$d.dict"
done
# Every triple: three fields, names in the dicts, no duplicate within or across files.
awk -F'\t' 'FILENAME ~ /entities/ { ent[$2] = 1; next }
            FILENAME ~ /relations/ { rel[$2] = 1; next }
            NF != 3 || !($1 in ent) || !($3 in ent) || !($2 in rel) || dup[$0]++ {
              print FILENAME ": bad triple " FNR ": " $0; bad = 1 }
            END { exit bad }' "$work/kg/entities.dict" "$work/kg/relations.dict" \
  "$work/kg/train.txt" "$work/kg/valid.txt" "$work/kg/test.txt" || fail "triples"
# valid/test heads, tails and relations occur in train; the summary counts match the files.
awk -F'\t' 'FILENAME ~ /train/ { ent[$1] = ent[$3] = rel[$2] = 1; next }
            !($1 in ent) || !($3 in ent) || !($2 in rel) { print FILENAME ": not in train: " $0; bad = 1 }
            END { exit bad }' "$work/kg/train.txt" "$work/kg/valid.txt" "$work/kg/test.txt" || fail "held out"
expect "$out" "train $(wc -l <"$work/kg/train.txt"), valid $(wc -l <"$work/kg/valid.txt"), test $(wc -l <"$work/kg/test.txt"))"
expect "$out" "$(wc -l <"$work/kg/entities.dict") entities, $(wc -l <"$work/kg/relations.dict") relations"
[[ $(wc -l <"$work/kg/valid.txt") -gt 0 ]] || fail "valid.txt is empty"

# extract -> train -> eval -> serve on the extracted graph.
cat >"$work/kg.yaml" <<YAML
run: {name: extracted, out_dir: $work/run, seed: 1, threads: 1}
model: {kind: kg_completion}
kg: {data_dir: $work/kg, score: complex, dim: 16, training: one_vs_all, batch: 256, n3: 0.01, init_scale: 0.1}
train: {optimizer: adagrad, lr: 0.1, weight_decay: 0, warmup_steps: 0, schedule: constant, grad_clip: 0, epochs: 2,
        progress: off}
YAML
"$autoglm" train "$work/kg.yaml" >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train on the extracted graph"; }
eval_out=$("$autoglm" eval --checkpoint "$work/run" 2>/dev/null) || fail "eval of the extracted graph's checkpoint"
expect "$eval_out" '"mrr":'
"$autoglm" serve --checkpoint "$work/run" --port 0 >"$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[^ ]*' "$work/serve.out" 2>/dev/null || true)
  [[ -n "$url" ]] && break
  sleep 0.2
done
[[ -n "$url" ]] || { cat "$work/serve.log"; fail "serve did not start"; }
IFS=$'\t' read -r head rel _ <"$work/kg/train.txt"
answer=$(curl -s -H 'Content-Type: application/json' "$url/v1/kg/complete" \
         --data "{\"head\": \"$head\", \"relation\": \"$rel\", \"k\": 3}")
expect "$answer" '"entities":[{"entity":'
kill $serve_pid

# Errors: one line naming the file, exit 1 or 2.
check_error() {  # check_error NEEDLE ARGS...
  local needle=$1 err rc
  shift
  set +e
  err=$("$autoglm" extract "$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [[ $rc -eq 1 || $rc -eq 2 ]] || fail "exit $rc for $*"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "more than one line:"$'\n'"$err"
  expect "$err" "$needle"
}
check_error "$work/missing.txt: no such file" --corpus "$work/missing.txt" --out "$work/o1"
printf 'the company sold the plant\nthe bank bought \xe9 shares\n' >"$work/latin1.txt"
check_error "$work/latin1.txt:2: not valid UTF-8" --corpus "$work/latin1.txt" --out "$work/o2"
check_error "$work/kg: directory is not empty" --corpus "$src/data/r8/corpus.txt" --out "$work/kg" --max-docs 1
"$autoglm" extract --corpus "$work/latin1.txt" --out "$work/kg" --max-docs 1 --overwrite >/dev/null 2>&1 \
  || fail "--overwrite was refused"
echo "extract_test: ok"
