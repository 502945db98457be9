#pragma once
// A table sharded by rows over the tensor-parallel group (a knowledge graph's
// entity table, a vocabulary): rank i holds rows [offset, offset + rows) of
// partitionSizes(total, tp)[i]. The operations a model needs of it, without
// ever gathering the table (Megatron-LM's VocabParallelEmbedding and
// vocab_parallel_cross_entropy):
//
//   lookupRows(local, offset, ids)     the rows `ids` [B] (global ids) on every
//       rank: each rank gathers those it holds, zeros elsewhere, and the group
//       sums (forward all-reduce; backward: the gradient as it is, which each
//       rank routes to its own rows only). The table's gradient is sparse COO
//       (the rows looked up), as an embedding's.
//   shardedCrossEntropy(logits, targets, offset)   the softmax cross-entropy
//       [B] of logits of which each rank holds the columns of its rows
//       [B, rows]: the max, the sum of exponentials and the target's logit
//       are reduced over the group; differentiable (each rank's gradient is
//       softmax minus one-hot on its columns).
//   targetValues(values, targets, offset)  values[b, targets[b] - offset] from
//       the rank holding that column, on every rank (no gradient).
//   shardedTopK(values, k, offset)   the k largest of each row over all ranks'
//       columns, with global column ids: each rank's top k, all-gathered and
//       merged (ties: the lower id first). No gradient.
// Every call is collective over `tp` (ranks in the same order); at size 1
// these are the plain single-process operations.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

#include "comm/communicator.h"

namespace autoglm::parallel::tensor_parallel {

at::Tensor lookupRows(const at::Tensor& local, int64_t offset, const at::Tensor& ids, comm::Communicator& tp);
at::Tensor shardedCrossEntropy(const at::Tensor& logits, const at::Tensor& targets, int64_t offset,
                               comm::Communicator& tp);
at::Tensor targetValues(const at::Tensor& values, const at::Tensor& targets, int64_t offset, comm::Communicator& tp);
std::pair<at::Tensor, at::Tensor> shardedTopK(const at::Tensor& values, int64_t k, int64_t offset,
                                              comm::Communicator& tp);

}  // namespace autoglm::parallel::tensor_parallel
