#!/usr/bin/env bash
# `autoglm vectors import` and `vectors info` end to end on tiny files: a text
# file converted (f32 and bf16) and described, the coverage of a tiny dataset
# and --only-dataset-words, and errors that name the file (and line).
#   vectors_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_vectors_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "vectors_test: $*" >&2; exit 1; }
expect() {  # expect TEXT NEEDLE
  [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"
}

printf 'the 0.5 -1 2\r\ncat 1 2 3\r\ndog 4 5 6\r\nsat 7 8 9\r\nzebra 0 0 1\r\n' >"$work/v.txt"
out=$("$autoglm" vectors import "$work/v.txt" "$work/v.agvec")
expect "$out" "read 5 words, dim 3"
expect "$out" "wrote $work/v.agvec: 5 words, dim 3, f32"
info=$("$autoglm" vectors info "$work/v.agvec")
expect "$info" "format: agvec (binary)"
expect "$info" "dtype: f32"
expect "$info" "dim: 3"
expect "$info" "count: 5"
expect "$info" "checksum: fnv1a64 "
expect "$info" " ok"
"$autoglm" vectors import "$work/v.txt" "$work/b.agvec" --dtype bf16 >/dev/null
expect "$("$autoglm" vectors info "$work/b.agvec")" "dtype: bf16"

# A dataset: train "the cat sat" / "the dog ran", test "a cat flew".
mkdir "$work/ds"
printf 'the cat sat\nthe dog ran\na cat flew\n' >"$work/ds/corpus.txt"
printf '0\ttrain\tx\n1\ttrain\ty\n2\ttest\tx\n' >"$work/ds/labels.txt"
printf 'data: {dir: %s/ds, corpus: corpus.txt, labels: labels.txt}\n' "$work" >"$work/x.yaml"
out=$("$autoglm" vectors import "$work/v.txt" "$work/d.agvec" --config "$work/x.yaml" --only-dataset-words)
expect "$out" "read 4 words occurring in the dataset, dim 3"
expect "$out" "train split: 4 of 5 types (80.0%), 5 of 6 tokens (83.3%)"
expect "$out" "all splits:  4 of 7 types (57.1%), 6 of 9 tokens (66.7%)"
expect "$("$autoglm" vectors info "$work/d.agvec")" "count: 4"
# The coverage alone (no OUT), and a subset of an .agvec.
out=$("$autoglm" vectors import "$work/b.agvec" --config "$work/x.yaml")
expect "$out" "reading $work/b.agvec as .agvec"
expect "$out" "all splits:  4 of 7 types (57.1%)"
"$autoglm" vectors import "$work/b.agvec" "$work/s.agvec" --config "$work/x.yaml" --only-dataset-words >/dev/null
expect "$("$autoglm" vectors info "$work/s.agvec")" "count: 4"

# Errors: exit 1, one line naming the file (and the line of text input).
printf 'a 1 2\nb 1\n' >"$work/bad.txt"
if err=$("$autoglm" vectors import "$work/bad.txt" "$work/bad.agvec" 2>&1); then fail "a short row was accepted"; fi
expect "$err" "$work/bad.txt:2: word \"b\" has 1 values, expected 2"
[[ ! -e "$work/bad.agvec" ]] || fail "a failed import left its output"
printf '\x01' | dd of="$work/v.agvec" bs=1 seek=$(( $(stat -c %s "$work/v.agvec") - 1 )) conv=notrunc status=none
set +e
err=$("$autoglm" vectors info "$work/v.agvec" 2>&1)
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "info on a corrupt file exited $rc"
expect "$err" "$work/v.agvec: corrupt word vectors file: checksum mismatch"
echo "vectors_test: ok"
