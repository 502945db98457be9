#include "parallel/tensor_parallel/row_sharded.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include "parallel/tensor_parallel/tp_ops.h"

namespace autoglm::parallel::tensor_parallel {

namespace {

// Which of `ids` fall in [offset, offset + rows): their positions and local ids.
std::pair<at::Tensor, at::Tensor> ownedIds(const at::Tensor& ids, int64_t offset, int64_t rows) {
  const at::Tensor owned = (ids >= offset).logical_and(ids < offset + rows);
  const at::Tensor pos = owned.nonzero().view({-1});
  return {pos, ids.index_select(0, pos) - offset};
}

at::Tensor allreduced(at::Tensor t, comm::Communicator& tp, comm::ReduceOp op) {
  t = t.contiguous();
  if (tp.size() > 1) tp.allreduce(t, {op})->wait();
  return t;
}

}  // namespace

at::Tensor lookupRows(const at::Tensor& local, int64_t offset, const at::Tensor& ids, comm::Communicator& tp) {
  if (tp.size() == 1) return at::embedding(local, ids - offset, -1, false, /*sparse=*/true);
  const auto [pos, local_ids] = ownedIds(ids, offset, local.size(0));
  const at::Tensor rows = at::embedding(local, local_ids, -1, false, /*sparse=*/true);
  const at::Tensor mine = at::zeros({ids.size(0), local.size(1)}, local.options()).index_copy(0, pos, rows);
  return reduceFromTensorParallel(mine, tp);
}

at::Tensor targetValues(const at::Tensor& values, const at::Tensor& targets, int64_t offset, comm::Communicator& tp) {
  at::NoGradGuard no_grad;
  const auto [pos, local_ids] = ownedIds(targets, offset, values.size(1));
  at::Tensor out = at::zeros({targets.size(0)}, values.options());
  out.index_copy_(0, pos, values.index_select(0, pos).gather(1, local_ids.unsqueeze(1)).view({-1}));
  return allreduced(out, tp, comm::ReduceOp::kSum);
}

at::Tensor shardedCrossEntropy(const at::Tensor& logits, const at::Tensor& targets, int64_t offset,
                               comm::Communicator& tp) {
  if (tp.size() == 1) return at::cross_entropy_loss(logits, targets - offset, {}, at::Reduction::None);
  at::Tensor max;
  {
    at::NoGradGuard no_grad;
    max = allreduced(std::get<0>(logits.max(1)), tp, comm::ReduceOp::kMax);
  }
  const at::Tensor shifted = logits - max.unsqueeze(1);
  const at::Tensor sum_exp = reduceFromTensorParallel(shifted.exp().sum(1), tp);
  const auto [pos, local_ids] = ownedIds(targets, offset, logits.size(1));
  const at::Tensor mine = at::zeros({targets.size(0)}, logits.options())
                              .index_copy(0, pos, shifted.index_select(0, pos).gather(1, local_ids.unsqueeze(1)).view({-1}));
  return sum_exp.log() - reduceFromTensorParallel(mine, tp);
}

std::pair<at::Tensor, at::Tensor> shardedTopK(const at::Tensor& values, int64_t k, int64_t offset,
                                              comm::Communicator& tp) {
  at::NoGradGuard no_grad;
  // Each rank's own best k, ties lower id first (a stable sort of columns in
  // id order), so that the merge below sees every column that can win.
  const int64_t kk = std::min<int64_t>(k, values.size(1));
  auto [v, i] = values.sort(/*stable=*/true, 1, /*descending=*/true);
  v = v.narrow(1, 0, kk);
  i = i.narrow(1, 0, kk) + offset;
  if (tp.size() > 1) {
    auto wv = tp.allgatherv(v.contiguous(), {});
    wv->wait();
    auto wi = tp.allgatherv(i.contiguous(), {});
    wi->wait();
    v = at::cat(wv->result(), 1);
    i = at::cat(wi->result(), 1);
  }
  // Merge: by value descending, then id ascending (a stable sort by id first).
  const at::Tensor by_id = std::get<1>(i.sort(1));
  v = v.gather(1, by_id);
  i = i.gather(1, by_id);
  const at::Tensor order = std::get<1>(v.sort(/*stable=*/true, 1, /*descending=*/true));
  const int64_t out_k = std::min<int64_t>(k, v.size(1));
  return {v.gather(1, order).narrow(1, 0, out_k), i.gather(1, order).narrow(1, 0, out_k)};
}

}  // namespace autoglm::parallel::tensor_parallel
