#!/usr/bin/env bash
# Two emulated hosts (scripts/emulate-hosts.sh: each its own network, PID,
# mount and UTS namespaces, its own disk at $net/disk, $net/shared seen by
# both), 2 ranks per host, mpirun through the rsh agent, the supervisor on
# hostA's address:
#   dp       data-parallel training across the two hosts, each writing to its
#            own disk, gives the parameters of one host (MPI all-reduce there too);
#   kill     kill -9 of a rank on hostB is reported with that host's name and
#            the pid hostB gives it, and no process of the job is left;
#   stop     SIGSTOP of a rank on hostB is reported as a stopped rank of hostB,
#            and a process of hostA that has the same pid is not harmed;
#   restart  kill -9 of a rank on hostB under --max-restarts 1, no shared
#            storage: the job resumes and ends with the parameters of an
#            uninterrupted run;
#   hostile  malformed and unauthenticated lines sent to the supervisor from
#            hostB during a run: those connections are closed, the job trains on;
#   tpp      tp=2 x pp=2 across the hosts with shared storage gives the
#            parameters of one host at that layout; on private disks it is a
#            start-up error naming run.out_dir.
# The namespaces are removed on exit, whatever happened. Needs root.
#   multihost_test.sh CASE BUILD_DIR SOURCE_DIR
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "multihost_test: needs root; skipped"; exit 77; }
work=$(mktemp -d /tmp/autoglm_multihost.XXXXXX)
hosts="$src/scripts/emulate-hosts.sh"
net="$work/net"
cleanup() {
  "$hosts" down "$net" || true
  pkill -KILL -f "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$hosts" up "$net"
source "$net/env"
mpi=()
while read -r a; do mpi+=("--mpirun-arg=$a"); done < <("$hosts" mpirun-args "$net")
one=(--mpirun-arg=--oversubscribe --mpirun-arg=-x --mpirun-arg=OMP_NUM_THREADS=1)
mpi+=("${one[@]}")
launch="$build/launch/autoglm-launch"
fail() { echo "multihost_test ($case_): $*" >&2; cat "$work/log" >&2 2>/dev/null || true; exit 1; }
on_a() { "$hosts" run "$net" A "$@"; }
two_hosts() { on_a "$launch" --hostfile "$net/hosts" --supervisor-address "$IP_A" "${mpi[@]}" "$@"; }

# Each host's own disk holds the run (hostA's is $net/diskA from here); the
# cache too, so each host prepares its own.
cat >"$work/x.yaml" <<YAML
run: {out_dir: $net/disk/run, seed: 5}
data: {dir: $src/data/r8, cache_dir: $net/disk/cache, val_fraction: 0.8}
graph: {max_doc_len: 48}
model: {embed_dim: 16, layers: 1, heads: 2, head_dim: 8, head_hidden: 16}
train: {epochs: 1, batch_graphs: 16, patience: 0, progress: off, checkpoint_every: 10}
YAML

job_pids() {  # the job's processes on host $1 (as seen here)
  local ns=$NS_A; [[ $1 == B ]] && ns=$NS_B
  for p in $(ip netns pids "$ns"); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$work/x.yaml" && echo "$p"
  done
  return 0
}
rank_on_b() {
  for p in $(job_pids B); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "autoglm train --config" && { echo "$p"; return; }
  done
}
wait_for_checkpoint() {
  for _ in $(seq 1200); do [[ -f "$net/diskA/run/checkpoints/LATEST" ]] && return 0; sleep 0.1; done
  fail "no checkpoint after 120 s"
}
nothing_left() {
  sleep 1
  local left; left=$(echo $(job_pids A) $(job_pids B))
  [[ -z "$left" ]] || { ps -o pid,stat,etime,args -p "${left// /,}" >&2 || true; fail "processes of the job were left"; }
}

case "$case_" in
dp)
  two_hosts train "$work/x.yaml" >"$work/log" 2>&1 || fail "the two-host run failed"
  "$launch" -n 4 "${one[@]}" train "$work/x.yaml" --set run.out_dir="$work/ref" --set data.cache_dir="$work/cache" \
    --set comm.shm_allreduce=false >"$work/ref.log" 2>&1 || fail "the one-host run failed"
  [[ -z "$(ls "$net/diskB/run/checkpoints" 2>/dev/null)" ]] || fail "hostB wrote checkpoints"
  "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$net/diskA/run/checkpoints" 1e-6 ||
    fail "two hosts and one host trained different parameters"
  ;;
kill|restart)
  restarts=0 epochs=100
  [[ $case_ == restart ]] && restarts=1 epochs=2
  if [[ $case_ == restart ]]; then
    "$launch" -n 4 "${one[@]}" train "$work/x.yaml" --set train.epochs=2 --set run.out_dir="$work/ref" \
      --set data.cache_dir="$work/cache" --set comm.shm_allreduce=false >"$work/ref.log" 2>&1 ||
      { cat "$work/ref.log" >&2; fail "the one-host run failed"; }
  fi
  two_hosts --max-restarts "$restarts" train "$work/x.yaml" --set train.epochs=$epochs \
    >"$work/log" 2>&1 &
  launcher=$!
  wait_for_checkpoint
  victim=$(rank_on_b)
  [[ -n "$victim" ]] || fail "no rank found on hostB"
  inner=$("$hosts" pid "$net" B "$victim")
  kill -KILL "$victim"
  status=0; wait "$launcher" || status=$?
  if [[ $case_ == kill ]]; then
    [[ $status -ne 0 ]] || fail "the launcher exited 0"
    grep -q "(host hostB, pid $inner) ended without finishing" "$work/log" ||
      fail "the rank on hostB (pid $inner there, $victim here) was not named"
    nothing_left
  else
    [[ $status -eq 0 ]] || fail "the restarted job did not finish (exit $status)"
    grep -q "autoglm-launch: done after 1 restart(s)" "$work/log" || fail "no restart reported"
    grep -q "resumed from" "$work/log" || fail "the second attempt did not resume"
    "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$net/diskA/run/checkpoints" 1e-6 ||
      fail "parameters differ from the uninterrupted run"
  fi
  grep "autoglm-launch:" "$work/log"
  ;;
stop)
  # hostB numbers its processes from 5001 on, so that a pid of hostB is free on
  # hostA for a bystander to take.
  "$hosts" run "$net" B sh -c 'echo 5000 >/proc/sys/kernel/ns_last_pid'
  two_hosts --heartbeat-timeout 3 --mpirun-arg=--mca --mpirun-arg=odls_base_sigkill_timeout --mpirun-arg=1 \
    train "$work/x.yaml" --set train.epochs=100 >"$work/log" 2>&1 &
  launcher=$!
  wait_for_checkpoint
  victim=$(rank_on_b)
  [[ -n "$victim" ]] || fail "no rank found on hostB"
  inner=$("$hosts" pid "$net" B "$victim")
  (( inner > 5000 )) || fail "hostB gave its rank pid $inner"
  on_a sh -c "echo $((inner - 1)) >/proc/sys/kernel/ns_last_pid; sleep 600 & wait" &
  sleep 0.3
  bystander=""
  for p in $(ip netns pids "$NS_A"); do
    [[ "$("$hosts" pid "$net" A "$p")" == "$inner" ]] && bystander=$p
  done
  [[ -n "$bystander" ]] || fail "could not place a process with pid $inner on hostA"
  kill -STOP "$victim"
  status=0; wait "$launcher" || status=$?
  [[ $status -ne 0 ]] || fail "the launcher exited 0 after a hang"
  grep -q "(host hostB, pid $inner) stopped responding" "$work/log" || fail "the stopped rank on hostB was not named"
  kill -0 "$bystander" 2>/dev/null || fail "hostA's process $inner (the stopped rank's number on hostB) was killed"
  kill -KILL "$bystander"
  nothing_left
  grep "autoglm-launch:" "$work/log"
  ;;
hostile)
  two_hosts train "$work/x.yaml" --set train.epochs=3 >"$work/log" 2>&1 &
  launcher=$!
  port=""
  for _ in $(seq 300); do
    port=$(grep -o -- "--supervisor $IP_A:[0-9]*" "$work/log" 2>/dev/null | head -1 | sed 's/.*://') && [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || fail "no supervisor address in the log"
  wait_for_checkpoint
  for line in '5' '{"t":"hello","rank":"x"}' '{"t":"bye","rank":1}' \
              '{"t":"hello","rank":1,"world":4,"secret":"guess","host":"x","pid":1}' 'not json at all'; do
    "$hosts" run "$net" B bash -c "exec 3<>/dev/tcp/$IP_A/$port; printf '%s\n' '$line' >&3; sleep 0.2" || true
  done
  status=0; wait "$launcher" || status=$?
  [[ $status -eq 0 ]] || fail "the job did not finish (exit $status)"
  [[ $(grep -c "supervisor: closed the connection from $IP_B" "$work/log") -eq 5 ]] ||
    fail "not every hostile connection was closed with a reason"
  grep "supervisor: closed" "$work/log"
  ;;
tpp)
  layout=(--set parallel.tp=2 --set parallel.pp=2 --set parallel.dp=1 --set model.layers=2)
  two_hosts train "$work/x.yaml" "${layout[@]}" --set run.out_dir="$net/shared/run" >"$work/log" 2>&1 ||
    fail "tp x pp across the hosts on shared storage failed"
  "$launch" -n 4 "${one[@]}" train "$work/x.yaml" "${layout[@]}" --set run.out_dir="$work/ref" \
    --set data.cache_dir="$work/cache" >"$work/ref.log" 2>&1 || { cat "$work/ref.log" >&2; fail "the one-host run failed"; }
  "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$net/shared/run/checkpoints" 1e-5 ||
    fail "two hosts and one host trained different parameters"
  status=0
  two_hosts train "$work/x.yaml" "${layout[@]}" >"$work/log" 2>&1 || status=$?
  [[ $status -eq 2 ]] || fail "tp x pp on private disks: exit $status, not 2 (a start-up config error)"
  grep -q "run.out_dir" "$work/log" || fail "the error does not name run.out_dir"
  grep "error" "$work/log" | head -3
  [[ ! -e "$net/diskA/run/checkpoints/LATEST" ]] || fail "it trained before failing"
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
echo "multihost_test $case_: passed"
