#!/usr/bin/env bash
# Hosts without a shared file system, emulated on one host by giving each rank
# its own run.out_dir with mpirun's MPMD syntax (-n 1 ... : -n 1 ...):
#   dp   data parallel at 2 ranks trains, stops (train.max_steps), resumes with
#        --resume (rank 1 has no checkpoint on its disk: world rank 0 reads and
#        sends it what it needs), and ends with the parameters of an
#        uninterrupted run; a fresh run is refused or not by rank 0's folder alone.
#   tp   tensor parallel at 2 ranks is refused at start-up, before training,
#        with an error naming run.out_dir and the rank and host that do not see
#        it (exit 2), instead of failing at the first checkpoint.
#   unshared_out_dir_test.sh CASE BUILD_DIR SOURCE_DIR MPIEXEC
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
mpiexec=${4:-mpirun}
autoglm="$build/launch/autoglm"
work=$(mktemp -d /tmp/autoglm_unshared_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
mpi=("$mpiexec" --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1)

cat >"$work/x.yaml" <<YAML
run: {out_dir: $work/shared, seed: 3}
data: {dir: $src/data/r8, cache_dir: $work/cache, val_fraction: 0.8}
graph: {max_doc_len: 48}
model: {embed_dim: 16, layers: 1, heads: 2, head_dim: 8, head_hidden: 16, dropout: 0.2}
train: {epochs: 3, batch_graphs: 16, patience: 0, progress: off, checkpoint_every: 10, keep_checkpoints: 2}
YAML
fail() { echo "unshared_out_dir_test ($case_): $*" >&2; cat "$work/log" >&2 2>/dev/null || true; exit 1; }
# Two ranks, each with its own run.out_dir ($1 for rank 0, $2 for rank 1); the rest are train's arguments.
two_hosts() {
  local a=$1 b=$2
  shift 2
  "${mpi[@]}" -n 1 "$autoglm" train --config "$work/x.yaml" --set run.out_dir="$a" "$@" : \
              -n 1 "$autoglm" train --config "$work/x.yaml" --set run.out_dir="$b" "$@"
}

case "$case_" in
dp)
  "${mpi[@]}" -n 2 "$autoglm" train --config "$work/x.yaml" --set run.out_dir="$work/ref" >"$work/ref.log" 2>&1 || {
    cat "$work/ref.log"; fail "the reference run failed"; }
  two_hosts "$work/A" "$work/B" --set train.max_steps=25 >"$work/log" 2>&1 || fail "the first part failed"
  [[ -f "$work/A/checkpoints/LATEST" ]] || fail "rank 0 wrote no checkpoint"
  [[ ! -e "$work/B/checkpoints/LATEST" ]] || fail "rank 1 has checkpoints of its own: the test would be vacuous"
  status=0
  two_hosts "$work/A" "$work/B" --resume >"$work/log" 2>&1 || status=$?
  [[ $status -eq 0 ]] || fail "the resumed run failed (exit $status)"
  grep -q "resumed from $work/A/checkpoints/step-00000025 at step 25" "$work/log" || fail "did not resume at step 25"
  "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$work/A/checkpoints" 1e-6 || fail "parameters differ"
  # A fresh run: only rank 0's folder decides whether out_dir is used (rank 1's holds another run).
  two_hosts "$work/E" "$work/A" --set train.max_steps=2 >"$work/log" 2>&1 || fail "rank 1's own folder refused a fresh run"
  echo "unshared_out_dir_test dp: resumed on rank 0's checkpoint alone, parameters equal to the uninterrupted run"
  ;;
tp)
  status=0
  two_hosts "$work/A" "$work/B" --set parallel.tp=2 >"$work/log" 2>&1 || status=$?
  [[ $status -eq 2 ]] || fail "exit $status, not 2 (a config error)"
  grep -q "run.out_dir=$work/[AB] is not one folder shared by all ranks" "$work/log" || fail "run.out_dir not named"
  grep -q "world rank 1 (host $(hostname)" "$work/log" || fail "the rank and host were not named"
  grep -q "epoch 1/" "$work/log" && fail "training started"
  grep -m1 "is not one folder shared" "$work/log"
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
