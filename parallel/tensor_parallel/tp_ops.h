#pragma once
// The collectives of tensor parallelism as differentiable operations (the f and
// g operators of Megatron-LM), and how a dimension is divided among the ranks.
//
//   copyToTensorParallel(x)      forward: x (replicated); backward: all-reduce
//                                (sum) of the gradient. At the input of a part
//                                whose ranks each use x for their own slice.
//   reduceFromTensorParallel(x)  forward: all-reduce (sum) of the partial
//                                results; backward: the gradient as it is.
//   gatherColumns(x, widths)     forward: all-gather along dim 1 of each rank's
//                                columns (widths may differ); backward: this
//                                rank's columns of the gradient.
//
// The gradient of a replicated activation is the same on every rank of the
// group (everything after it is replicated too), which is what makes the
// backward of gather a plain split and that of reduce the identity.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "comm/communicator.h"

namespace autoglm::parallel::tensor_parallel {

// `n` divided among `parts` as evenly as possible, the first n % parts getting
// one more: 5 over 2 is {3, 2}, 7421 over 4 is {1856, 1855, 1855, 1855}.
std::vector<int64_t> partitionSizes(int64_t n, int parts);
// Where part `index` starts.
int64_t partitionOffset(int64_t n, int parts, int index);

at::Tensor copyToTensorParallel(const at::Tensor& x, comm::Communicator& tp);
at::Tensor reduceFromTensorParallel(const at::Tensor& x, comm::Communicator& tp);
at::Tensor gatherColumns(const at::Tensor& x, comm::Communicator& tp, const std::vector<int64_t>& widths);

// A dropout seed for an activation of which each rank holds a different slice:
// the seed every rank drew (so that the ranks' generators stay in step) mixed
// with the rank, so that the slices' masks are independent.
uint64_t shardedSeed(uint64_t seed, int tp_rank);

}  // namespace autoglm::parallel::tensor_parallel
