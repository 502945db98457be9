#!/usr/bin/env bash
# Two emulated hosts (scripts/emulate-hosts.sh: network namespaces, a veth pair,
# a hostname each), 2 ranks per host, mpirun through the rsh agent, the
# supervisor on hostA's address:
#   dp    data-parallel training across the two hosts gives the parameters of
#         one host (4 ranks, MPI all-reduce there too);
#   kill  kill -9 of a rank on hostB is reported with that host's name.
# The namespaces are removed on exit, whatever happened. Needs root.
#   multihost_test.sh CASE BUILD_DIR SOURCE_DIR
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "multihost_test: needs root; skipped"; exit 77; }
work=$(mktemp -d /tmp/autoglm_multihost.XXXXXX)
hosts="$src/scripts/emulate-hosts.sh"
cleanup() {
  "$hosts" down "$work/net" || true
  rm -rf "$work"
}
trap cleanup EXIT
"$hosts" up "$work/net"
source "$work/net/env"
mpi=()
while read -r a; do mpi+=("--mpirun-arg=$a"); done < <("$hosts" mpirun-args "$work/net")
mpi+=(--mpirun-arg=--oversubscribe --mpirun-arg=-x --mpirun-arg=OMP_NUM_THREADS=1)
launch="$build/launch/autoglm-launch"
fail() { echo "multihost_test ($case_): $*" >&2; cat "$work/log" >&2 2>/dev/null || true; exit 1; }

cat >"$work/x.yaml" <<YAML
run: {out_dir: $work/run, seed: 5}
data: {dir: $src/data/r8, cache_dir: $work/cache, val_fraction: 0.8}
graph: {max_doc_len: 48}
model: {embed_dim: 16, layers: 1, heads: 2, head_dim: 8, head_hidden: 16}
train: {epochs: 1, batch_graphs: 16, patience: 0, progress: off, checkpoint_every: 10}
YAML

case "$case_" in
dp)
  "$hosts" run "$work/net" A "$launch" --hostfile "$work/net/hosts" --supervisor-address "$IP_A" "${mpi[@]}" \
    train "$work/x.yaml" >"$work/log" 2>&1 || fail "the two-host run failed"
  "$launch" -n 4 --mpirun-arg=--oversubscribe --mpirun-arg=-x --mpirun-arg=OMP_NUM_THREADS=1 train "$work/x.yaml" \
    --set run.out_dir="$work/ref" --set comm.shm_allreduce=false >"$work/ref.log" 2>&1 || fail "the one-host run failed"
  "$build/tests/launch/checkpoint_diff" "$work/ref/checkpoints" "$work/run/checkpoints" 1e-6 ||
    fail "two hosts and one host trained different parameters"
  ;;
kill)
  "$hosts" run "$work/net" A "$launch" --hostfile "$work/net/hosts" --supervisor-address "$IP_A" "${mpi[@]}" \
    train "$work/x.yaml" --set train.epochs=100 >"$work/log" 2>&1 &
  launcher=$!
  for _ in $(seq 1200); do [[ -f "$work/run/checkpoints/LATEST" ]] && break; sleep 0.1; done
  victim=""
  for p in $(ip netns pids "$NS_B"); do
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "autoglm train --config"; then victim=$p; break; fi
  done
  [[ -n "$victim" ]] || fail "no rank found on hostB"
  kill -KILL "$victim"
  status=0; wait "$launcher" || status=$?
  [[ $status -ne 0 ]] || fail "the launcher exited 0"
  grep -q "(host hostB, pid $victim) ended without finishing" "$work/log" || fail "the rank on hostB was not named"
  grep "autoglm-launch:" "$work/log"
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
echo "multihost_test $case_: passed"
