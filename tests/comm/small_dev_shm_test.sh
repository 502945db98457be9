#!/usr/bin/env bash
# A /dev/shm too small for the shared-memory all-reduce segment (a 4 MiB tmpfs
# in a private mount namespace, smaller than the 6 MiB segment of 2 ranks with
# 1 MiB chunks): every rank must fall back to MPI, with a warning, and the
# all-reduce tests pass, where an unreserved segment would die of SIGBUS on
# the first page past the tmpfs' size. Needs root (unshare, mount).
#   small_dev_shm_test.sh MPIEXEC TEST_BINARY
set -euo pipefail
mpiexec=$1
binary=$2
if [[ $(id -u) -ne 0 ]]; then
  echo "small_dev_shm_test: needs root (mount namespace); skipped"
  exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
unshare --mount --propagation private bash -c '
  set -euo pipefail
  mount -t tmpfs -o size=4m tmpfs /dev/shm
  "$0" -np 2 --oversubscribe --allow-run-as-root --mca btl_vader_backing_directory /tmp -x OMP_NUM_THREADS=1 \
    "$1" --gtest_filter="MpiCommunicator.DefaultAllreduceOfSeveralChunks:Comm/AllreduceTest.*shm*"
' "$mpiexec" "$binary" >"$log" 2>&1 || { cat "$log"; echo "small_dev_shm_test: the run failed"; exit 1; }
cat "$log"
grep -q "shared-memory all-reduce unavailable" "$log" || { echo "small_dev_shm_test: no fallback was reported"; exit 1; }
grep -q "PASSED on 2 rank(s)" "$log" || { echo "small_dev_shm_test: tests did not pass"; exit 1; }
echo "small_dev_shm_test: fell back to MPI and passed"
