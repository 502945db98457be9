#!/usr/bin/env bash
# `autoglm generate kg` end to end: the ids and names forms, the same files
# for the same seed, the refusal of a non-empty directory, and bad flags as
# one line with status 2.
#   generate_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_generate_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "generate_test: $*" >&2; exit 1; }
expect() {  # expect TEXT NEEDLE
  [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"
}

# ids form: kg.json and three splits of id triples, 3000 triples in all.
out=$("$autoglm" generate kg --out "$work/ids" --entities 1000 --relations 7 --triples-per-entity 3 --clusters 10 \
  --valid-fraction 0.05 --test-fraction 0.05 --seed 3)
expect "$out" "generated $work/ids (ids form)"
expect "$out" "train 2700, valid 150, test 150 triples"
expect "$out" "of 1000 entities used, 7 of 7 relations"
[[ "$(ls "$work/ids" | tr '\n' ' ')" == "kg.json test.txt train.txt valid.txt " ]] || fail "ids form files: $(ls -A "$work/ids")"
expect "$(cat "$work/ids/kg.json")" '"format": "autoglm-kg-ids"'
expect "$(cat "$work/ids/kg.json")" '"seed": 3'
[[ $(wc -l <"$work/ids/train.txt") -eq 2700 ]] || fail "train.txt has $(wc -l <"$work/ids/train.txt") lines"
grep -qvP '^\d+\t\d+\t\d+$' "$work/ids/train.txt" && fail "a malformed line in train.txt"
[[ $(cat "$work/ids"/*.txt | sort | uniq -d | wc -l) -eq 0 ]] || fail "a duplicate triple"
bytes=$(cat "$work/ids"/* | wc -c)
expect "$out" "; $bytes bytes"

# The same seed gives the same files; another seed other triples.
"$autoglm" generate kg --out "$work/again" --entities 1000 --relations 7 --triples-per-entity 3 --clusters 10 \
  --valid-fraction 0.05 --test-fraction 0.05 --seed 3 >/dev/null
diff -r "$work/ids" "$work/again" >/dev/null || fail "same seed, different files"
"$autoglm" generate kg --out "$work/other" --entities 1000 --relations 7 --triples-per-entity 3 --clusters 10 \
  --valid-fraction 0.05 --test-fraction 0.05 --seed 4 >/dev/null
cmp -s "$work/ids/train.txt" "$work/other/train.txt" && fail "another seed, the same train.txt"

# names form over the ids form's directory: dicts in id order, e<id>/r<id> triples, kg.json removed.
if err=$("$autoglm" generate kg --out "$work/ids" --entities 1000 --relations 7 --names 2>&1); then
  fail "a non-empty --out was accepted"
fi
expect "$err" "--out $work/ids is not empty (--overwrite replaces its knowledge graph)"
"$autoglm" generate kg --out "$work/ids" --entities 1000 --relations 7 --triples-per-entity 3 --clusters 10 \
  --degree uniform --names --overwrite >/dev/null
[[ "$(ls "$work/ids" | tr '\n' ' ')" == "entities.dict relations.dict test.txt train.txt valid.txt " ]] ||
  fail "names form files: $(ls -A "$work/ids")"
[[ $(wc -l <"$work/ids/entities.dict") -eq 1000 ]] || fail "entities.dict has $(wc -l <"$work/ids/entities.dict") lines"
[[ "$(head -1 "$work/ids/entities.dict")" == $'0\te0' && "$(tail -1 "$work/ids/entities.dict")" == $'999\te999' ]] ||
  fail "entities.dict is not in id order"
[[ "$(cat "$work/ids/relations.dict")" == $'0\tr0\n1\tr1\n2\tr2\n3\tr3\n4\tr4\n5\tr5\n6\tr6' ]] || fail "relations.dict"
grep -qvP '^e\d+\tr\d+\te\d+$' "$work/ids/test.txt" && fail "a malformed line in test.txt"

# Bad flags: one line naming the flag, status 2, nothing written.
bad() {  # bad NEEDLE ARGS...
  local needle=$1 err rc
  shift
  set +e
  err=$("$autoglm" generate kg --out "$work/bad" "$@" 2>&1)
  rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "$* exited $rc"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "$* printed more than one line:"$'\n'"$err"
  expect "$err" "$needle"
}
bad "--entities" --entities 0 --relations 3
bad "--relations" --entities 10 --relations x
bad "--degree" --entities 10 --relations 3 --degree zipf:0
bad "--bogus" --entities 10 --relations 3 --bogus 1
bad "--noise" --entities 10 --relations 3 --noise 1.5
bad "--clusters 20 exceeds --entities 10" --entities 10 --relations 3 --clusters 20
bad "--valid-fraction 0.5 plus --test-fraction 0.5" --entities 10 --relations 3 --valid-fraction 0.5 --test-fraction 0.5
bad "--max-degree 2 times --entities 10" --entities 10 --relations 3 --clusters 2 --max-degree 2
bad "--relations is required" --entities 10
[[ ! -e "$work/bad" ]] || fail "a rejected command wrote $work/bad"
echo "generate_test: ok"
