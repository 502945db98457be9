#!/usr/bin/env bash
# The check to run on a lent GPU machine, as one command:
#   scripts/gpu-check.sh [OUT]        (OUT defaults to $OUT, else gpu-check-out)
# Installs what is missing (scripts/setup-deps.sh), configures build-gpu/ with
# CUDA and NCCL, builds what the check needs, runs the gpu-labelled tests and
# the NCCL backend's host tests, then benchmarks/collective/nccl_bench: an NCCL
# all-reduce bus-bandwidth table (4 B .. 1 GiB, ours against bare
# ncclAllReduce) and a data-parallel step (the gradient buckets of
# configs/r8_gat.yaml on NCCL and on MPI). Everything it prints is also written
# under OUT. Idempotent: a second run rebuilds only what changed. Stays within
# 8 minutes on a 16-core machine (a fresh build is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu-check-out}}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "machine"
nvidia-smi || echo "nvidia-smi: not available"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
echo "GPUs: ${gpus:-0}"
if [[ "${gpus:-0}" -lt 1 ]]; then
  echo "gpu-check: no GPU visible; nothing to check here" >&2
  exit 1
fi

step "dependencies"
scripts/setup-deps.sh

step "configure and build (build-gpu, CUDA + NCCL)"
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DAUTOGLM_WITH_NCCL=ON -DAUTOGLM_BUILD_TESTS=ON \
  -DAUTOGLM_BUILD_BENCHMARKS=ON >"$out/cmake.log"
cmake --build build-gpu -j"$(nproc)" --target comm_nccl_test comm_nccl_host_test nccl_bench >"$out/build.log"
tail -1 "$out/build.log"

step "tests: gpu label and the NCCL host logic"
status=0
(cd build-gpu && ctest -L gpu -R 'comm_nccl' --output-on-failure --timeout 300) | tee "$out/ctest-gpu.txt" || status=1
build-gpu/tests/comm/comm_nccl_host_test | tee "$out/host-test.txt" | tail -3 || status=1

step "benchmark: NCCL all-reduce and a data-parallel step ($gpus rank(s), one per GPU)"
mpirun -np "$gpus" --allow-run-as-root --bind-to none -x OMP_NUM_THREADS=1 \
  build-gpu/benchmarks/collective/nccl_bench --csv "$out/nccl_allreduce.csv" --config configs/r8_gat.yaml \
  | tee "$out/nccl_bench.txt" || status=1

step "done"
echo "gpu-check: outputs in $out; status $status"
exit $status
