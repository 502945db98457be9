#!/usr/bin/env bash
# autoglm-launch end to end, 2 ranks on this host:
#   hang      SIGSTOP of one rank is reported as a stopped rank, naming it and what
#             the other waits in, and the job ends (no process left).
#   restart   kill -9 of one rank under --max-restarts 1: the job resumes from its
#             newest checkpoint and ends with the parameters of an uninterrupted run.
#   mismatch  two ranks issue different collectives: reported, the job ends.
#   config    a config that cannot run at this layout (tp above the heads) is an
#             error naming the keys, exit 2, before mpirun starts any rank.
#   sigterm, sigint  the signal to autoglm-launch reaches the ranks: they save a
#             checkpoint, the launcher exits 130 without restarting (under
#             --max-restarts 2), no process is left, and --resume continues.
#   twice     a second signal ends the job at once: exit 130, no process left.
#   launch_test.sh CASE BUILD_DIR SOURCE_DIR
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
launch="$build/launch/autoglm-launch"
work=$(mktemp -d /tmp/autoglm_launch_test.XXXXXX)
cleanup() {
  pkill -KILL -f "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mpi=(--mpirun-arg=--oversubscribe --mpirun-arg=-x --mpirun-arg=OMP_NUM_THREADS=1)

cat >"$work/x.yaml" <<YAML
run: {out_dir: $work/run, seed: 3}
data: {dir: $src/data/r8, cache_dir: $work/cache, val_fraction: 0.8}
graph: {max_doc_len: 48}
model: {embed_dim: 16, layers: 1, heads: 2, head_dim: 8, head_hidden: 16, dropout: 0.2}
train: {epochs: 4, batch_graphs: 16, patience: 0, progress: off, checkpoint_every: 10, keep_checkpoints: 3}
YAML

rank_pids() { pgrep -f "autoglm train --config $work/x.yaml" | while read -r p; do
  # ranks, not mpirun: their parent is mpirun
  [[ $(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" 2>/dev/null) == *mpirun* || \
     $(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" 2>/dev/null) == *orte* ]] && echo "$p"; done; }
wait_for_step() {  # until LATEST names a step >= $1, at most 120 s
  for _ in $(seq 1200); do
    if [[ -f "$work/run/checkpoints/LATEST" ]]; then
      local s; s=$(sed 's/step-0*//' "$work/run/checkpoints/LATEST")
      [[ -n "$s" && "$s" -ge "$1" ]] && return 0
    fi
    sleep 0.1
  done
  echo "launch_test: training never reached step $1" >&2; return 1
}
fail() { echo "launch_test ($case_): $*" >&2; cat "$work/log" >&2 || true; exit 1; }

case "$case_" in
hang)
  start=$(date +%s)
  "$launch" -n 2 --heartbeat-timeout 3 "${mpi[@]}" train "$work/x.yaml" --set train.epochs=500 >"$work/log" 2>&1 &
  launcher=$!
  wait_for_step 20
  victim=$(rank_pids | tail -1)
  [[ -n "$victim" ]] || fail "no rank found"
  kill -STOP "$victim"
  stopped=$(date +%s)
  status=0; wait "$launcher" || status=$?
  took=$(( $(date +%s) - stopped ))
  [[ $status -ne 0 ]] || fail "the launcher exited 0 after a hang"
  grep -q "pid $victim) stopped responding: no heartbeat for" "$work/log" || fail "the stopped rank was not named"
  grep -Eq "waiting: rank [01] in [A-Z]+ on group '(dp|world)'" "$work/log" || fail "the waiting rank was not named"
  (( took < 30 )) || fail "the hang was reported after $took s"
  sleep 1
  pgrep -f "$work/x.yaml" >/dev/null && fail "processes were left behind"
  grep -A3 "stopped responding" "$work/log"
  echo "launch_test hang: reported and ended $took s after SIGSTOP (heartbeat timeout 3 s)"
  ;;
restart)
  # The uninterrupted run, then the same run killed once.
  "$launch" -n 2 "${mpi[@]}" train "$work/x.yaml" --set run.out_dir="$work/ref" >"$work/ref.log" 2>&1 || {
    cat "$work/ref.log"; fail "the reference run failed"; }
  "$launch" -n 2 --max-restarts 1 "${mpi[@]}" train "$work/x.yaml" >"$work/log" 2>&1 &
  launcher=$!
  wait_for_step 30
  victim=$(rank_pids | tail -1)
  [[ -n "$victim" ]] || fail "no rank found"
  kill -KILL "$victim"
  status=0; wait "$launcher" || status=$?
  [[ $status -eq 0 ]] || fail "the restarted job did not finish (exit $status)"
  grep -q "autoglm-launch: done after 1 restart(s)" "$work/log" || fail "no restart reported"
  grep -q "resumed from" "$work/log" || fail "the second attempt did not resume"
  "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$work/run/checkpoints" 1e-6 || fail "parameters differ"
  grep "autoglm-launch:" "$work/log"
  ;;
mismatch)
  status=0
  timeout 60 "$launch" -n 2 --heartbeat-timeout 5 "${mpi[@]}" exec "$build/tests/launch/mismatch_rank" \
    >"$work/log" 2>&1 || status=$?
  [[ $status -ne 0 && $status -ne 124 ]] || fail "not ended by the supervisor (exit $status)"
  grep -q "mismatched collectives on group 'world' at SeqNum=2" "$work/log" || fail "the mismatch was not reported"
  grep -q "issued ALLREDUCE" "$work/log" && grep -q "issued ALLGATHER" "$work/log" || fail "operations not named"
  grep "autoglm-launch:" "$work/log"
  ;;
config)
  status=0
  "$launch" -n 4 "${mpi[@]}" train "$work/x.yaml" --set parallel.tp=4 >"$work/log" 2>&1 || status=$?
  [[ $status -eq 2 ]] || fail "exit $status, not 2"
  grep -q "parallel.tp=4 exceeds model.heads=2" "$work/log" || fail "the keys were not named"
  [[ ! -e "$work/cache" && ! -e "$work/run" ]] || fail "data was prepared or the run started"
  ! grep -q "mpirun" "$work/log" || fail "mpirun was started"
  ;;
sigterm|sigint)
  sig=${case_#sig}; sig=${sig^^}
  "$launch" -n 2 --max-restarts 2 "${mpi[@]}" train "$work/x.yaml" --set train.epochs=500 >"$work/log" 2>&1 &
  launcher=$!
  wait_for_step 20
  kill -"$sig" "$launcher"
  status=0; wait "$launcher" || status=$?
  [[ $status -eq 130 ]] || fail "exit $status, not 130"
  grep -q "interrupted at step [0-9]*.*checkpoint saved" "$work/log" || fail "the ranks saved no checkpoint"
  grep -q "no restart" "$work/log" || fail "not reported as stopped"
  ! grep -q "attempt 2 of" "$work/log" || fail "the job was restarted"
  sleep 0.5
  ! pgrep -f "$work/x.yaml" >/dev/null || fail "processes were left behind"
  saved=$(sed 's/step-0*//' "$work/run/checkpoints/LATEST")
  "$launch" -n 2 "${mpi[@]}" train "$work/x.yaml" --set train.epochs=2 --resume >"$work/resume.log" 2>&1 ||
    { cat "$work/resume.log" >&2; fail "--resume after the signal failed"; }
  grep -q "resumed from .*step-0*$saved" "$work/resume.log" || { cat "$work/resume.log" >&2; fail "did not resume from step $saved"; }
  grep "autoglm-launch:" "$work/log"
  echo "launch_test $case_: saved at step $saved, exit 130, resumed"
  ;;
twice)
  "$launch" -n 2 "${mpi[@]}" train "$work/x.yaml" --set train.epochs=500 >"$work/log" 2>&1 &
  launcher=$!
  wait_for_step 10
  kill -STOP $(rank_pids | tail -1)  # a rank that cannot save: only the second signal ends the job
  kill -TERM "$launcher"
  sleep 1
  kill -TERM "$launcher"
  status=0; wait "$launcher" || status=$?
  [[ $status -eq 130 ]] || fail "exit $status, not 130"
  grep -q "again: ending the job now" "$work/log" || fail "the second signal was not reported"
  sleep 0.5
  ! pgrep -f "$work/x.yaml" >/dev/null || fail "processes were left behind"
  grep "autoglm-launch:" "$work/log"
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
