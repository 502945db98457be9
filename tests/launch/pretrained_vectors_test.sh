#!/usr/bin/env bash
# model.embed_init: pretrained end to end on R8's bundled vectors (one process):
# training starts from the file (frozen rows, projected to a narrower width),
# the checkpoint predicts after the file is gone, and bad settings are
# configuration errors (exit 2) naming the key.
#   pretrained_vectors_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_pretrained_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "pretrained_vectors_test: $*" >&2; exit 1; }
expect() {  # expect TEXT NEEDLE
  [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"
}

cp "$src/data/r8/vectors.agvec" "$work/v.agvec"
cat >"$work/x.yaml" <<YAML
run: {out_dir: $work/run, seed: 3}
data: {dir: $src/data/r8, cache_dir: $work/cache, val_fraction: 0.8}
vocab: {min_count: 2, vectors: $work/v.agvec}
graph: {max_doc_len: 48}
model: {embed_dim: 16, layers: 1, heads: 2, head_dim: 8, head_hidden: 16, dropout: 0.2,
        embed_init: pretrained, vectors: $work/v.agvec, vectors_lr: 0}
train: {epochs: 2, batch_graphs: 16, patience: 0, progress: off}
YAML

"$autoglm" train "$work/x.yaml" >"$work/train.log" 2>&1 || { tail -20 "$work/train.log"; fail "training failed"; }
log=$(cat "$work/train.log")
# Test-only words with a vector join the vocabulary; rows come from the file.
expect "$log" "kept "
expect "$log" "initialised embeddings from $work/v.agvec: "
expect "$log" " tokens from the file ("
grep -q '^test accuracy:' "$work/train.log" || fail "no test accuracy printed"
grep -q 'vectors_dim: 100' "$work/run/config.yaml" 2>/dev/null ||
  grep -rq 'vectors_dim: 100' "$work/run/checkpoints" || fail "the resolved vectors_dim was not saved with the run"

# The checkpoint holds everything: it predicts without the vectors file.
rm "$work/v.agvec"
out=$(printf 'oil prices rose as opec cut crude output\nthe company reported quarterly earnings\n' |
      "$autoglm" predict --checkpoint "$work/run" 2>"$work/predict.err") || {
  cat "$work/predict.err"; fail "predict failed without the vectors file"; }
[[ $(wc -l <<<"$out") -eq 2 ]] || fail "expected 2 predictions, got: $out"

# Configuration errors name the key.
status=0
err=$("$autoglm" train "$work/x.yaml" --set model.vectors= --overwrite 2>&1) || status=$?
[[ $status -eq 2 ]] || fail "missing model.vectors: exit $status, expected 2"
expect "$err" "model.embed_init=pretrained needs model.vectors"
cp "$src/data/r8/vectors.agvec" "$work/v.agvec"
status=0
err=$("$autoglm" train "$work/x.yaml" --set model.vectors_dim=50 --overwrite 2>&1) || status=$?
[[ $status -eq 2 ]] || fail "vectors_dim mismatch: exit $status, expected 2"
expect "$err" "model.vectors_dim=50 but model.vectors=$work/v.agvec holds vectors of width 100"
echo "pretrained_vectors_test: ok"
