#include "parallel/data_parallel/row_sparse.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include "core/error.h"

namespace autoglm::parallel::data_parallel {

Rows distinctRows(const at::Tensor& grad, at::IntArrayRef sizes) {
  AUTOGLM_CHECK(sizes.size() == 2, "a row-sparse gradient needs a 2-D parameter, not ", sizes.size(), "-D");
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  if (!grad.defined()) {
    return {at::empty({0}, at::TensorOptions().dtype(at::kLong)), at::empty({0, sizes[1]}, f32)};
  }
  AUTOGLM_CHECK(grad.sizes() == sizes, "row-sparse gradient of shape ", grad.sizes(), " for a parameter of shape ",
                sizes);
  if (grad.is_sparse() && grad.sparse_dim() == 1) {
    const at::Tensor c = grad.coalesce();
    return {c.indices()[0].contiguous(), c.values().to(at::kFloat).contiguous()};
  }
  const at::Tensor dense = grad.is_sparse() ? grad.to_dense() : grad;
  const at::Tensor ids = dense.ne(0).any(1).nonzero().squeeze(1).contiguous();
  return {ids, dense.index_select(0, ids).to(at::kFloat).contiguous()};
}

namespace {

// Rows as a sparse COO tensor. Their ids are ascending and distinct by
// construction (coalesce, nonzero), so it is marked coalesced rather than
// sorted again.
at::Tensor asCoalesced(const Rows& r, at::IntArrayRef sizes) {
  return at::_sparse_coo_tensor_unsafe(r.ids.unsqueeze(0), r.values, sizes)._coalesced_(true);
}

// The whole table summed over the group, then the rows any rank touched.
Rows denseReduce(const Rows& mine, at::IntArrayRef sizes, comm::Communicator& comm, RowSparseStats& stats) {
  at::Tensor table = at::zeros(sizes, at::TensorOptions().dtype(at::kFloat));
  table.index_add_(0, mine.ids, mine.values);
  at::Tensor mask = at::zeros({sizes[0]}, at::TensorOptions().dtype(at::kByte));
  mask.index_fill_(0, mine.ids, 1);
  auto w1 = comm.allreduce(table, {comm::ReduceOp::kSum});
  auto w2 = comm.allreduce(mask, {comm::ReduceOp::kMax});
  w1->wait();
  w2->wait();
  stats.bytes_sent += static_cast<int64_t>(table.nbytes() + mask.nbytes());
  ++stats.dense_reductions;
  const at::Tensor ids = mask.nonzero().squeeze(1).contiguous();
  return {ids, table.index_select(0, ids)};
}

// Every rank's rows gathered and summed here (coalesce sums repeated ids).
Rows gatherReduce(const Rows& mine, at::IntArrayRef sizes, comm::Communicator& comm, at::ScalarType wire,
                  RowSparseStats& stats) {
  const at::Tensor flat = mine.values.reshape({-1}).to(wire).contiguous();
  auto wi = comm.allgatherv(mine.ids, {});
  auto wv = comm.allgatherv(flat, {});
  wi->wait();
  wv->wait();
  stats.bytes_sent += static_cast<int64_t>(mine.ids.nbytes() + flat.nbytes());
  const at::Tensor ids = at::cat(wi->result());
  const at::Tensor values = at::cat(wv->result()).to(at::kFloat).view({-1, sizes[1]});
  const at::Tensor sum = at::sparse_coo_tensor(ids.unsqueeze(0), values, sizes).coalesce();
  return {sum.indices()[0].contiguous(), sum.values().contiguous()};
}

}  // namespace

at::Tensor reduceRowSparse(const at::Tensor& local, at::IntArrayRef sizes, comm::Communicator& comm,
                           double dense_fraction, RowSparseStats& stats, at::ScalarType wire) {
  AUTOGLM_CHECK(dense_fraction > 0.0, "dense_fraction must be > 0, not ", dense_fraction);
  at::NoGradGuard no_grad;
  const Rows mine = distinctRows(local, sizes);
  stats.rows_local += mine.ids.size(0);
  Rows sum = mine;
  if (comm.size() > 1) {
    // Every rank's row count, so that all pick the same way.
    const at::Tensor k = at::full({1}, mine.ids.size(0), at::TensorOptions().dtype(at::kLong));
    auto wk = comm.allgather(k, {});
    wk->wait();
    stats.bytes_sent += static_cast<int64_t>(k.nbytes());
    const int64_t total = wk->result()[0].sum().item<int64_t>();
    if (total > 0) {  // else no rank touched a row: nothing to reduce
      const double gathered = static_cast<double>(total) * static_cast<double>(sizes[1] + 1);
      const double table = static_cast<double>(sizes[0]) * static_cast<double>(sizes[1]);
      sum = gathered >= table * dense_fraction ? denseReduce(mine, sizes, comm, stats)
                                               : gatherReduce(mine, sizes, comm, wire, stats);
      sum.values.div_(static_cast<double>(comm.size()));
    }
  }
  stats.rows_union += sum.ids.size(0);
  return asCoalesced(sum, sizes);
}

}  // namespace autoglm::parallel::data_parallel
