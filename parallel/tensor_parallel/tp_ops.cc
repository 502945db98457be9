#include "parallel/tensor_parallel/tp_ops.h"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/error.h"

namespace autoglm::parallel::tensor_parallel {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

comm::Communicator& commOf(AutogradContext* ctx) {
  return *reinterpret_cast<comm::Communicator*>(ctx->saved_data["comm"].toInt());
}

at::Tensor allreduceSum(const at::Tensor& x, comm::Communicator& tp) {
  at::Tensor t = x.contiguous().clone();
  tp.allreduce(t, {comm::ReduceOp::kSum})->wait();
  return t;
}

struct CopyTo : public torch::autograd::Function<CopyTo> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return x.clone();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {allreduceSum(grad[0], commOf(ctx)), at::Tensor()};
  }
};

struct ReduceFrom : public torch::autograd::Function<ReduceFrom> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    (void)ctx;
    return allreduceSum(x, *reinterpret_cast<comm::Communicator*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    (void)ctx;
    return {grad[0], at::Tensor()};
  }
};

struct GatherColumns : public torch::autograd::Function<GatherColumns> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm, int64_t offset) {
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["width"] = x.size(1);
    auto& tp = *reinterpret_cast<comm::Communicator*>(comm);
    auto w = tp.allgatherv(x.contiguous(), {});
    w->wait();
    return at::cat(w->result(), 1);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const int64_t offset = ctx->saved_data["offset"].toInt(), width = ctx->saved_data["width"].toInt();
    return {grad[0].narrow(1, offset, width).contiguous(), at::Tensor(), at::Tensor()};
  }
};

int64_t handle(comm::Communicator& tp) { return reinterpret_cast<int64_t>(&tp); }

}  // namespace

std::vector<int64_t> partitionSizes(int64_t n, int parts) {
  AUTOGLM_CHECK(parts >= 1, "partition into ", parts, " parts");
  std::vector<int64_t> out;
  for (int p = 0; p < parts; ++p) out.push_back(n / parts + (p < n % parts ? 1 : 0));
  return out;
}

int64_t partitionOffset(int64_t n, int parts, int index) {
  int64_t off = 0;
  const auto sizes = partitionSizes(n, parts);
  for (int p = 0; p < index; ++p) off += sizes[static_cast<size_t>(p)];
  return off;
}

at::Tensor copyToTensorParallel(const at::Tensor& x, comm::Communicator& tp) {
  if (tp.size() == 1) return x;
  return CopyTo::apply(x, handle(tp));
}

at::Tensor reduceFromTensorParallel(const at::Tensor& x, comm::Communicator& tp) {
  if (tp.size() == 1) return x;
  return ReduceFrom::apply(x, handle(tp));
}

at::Tensor gatherColumns(const at::Tensor& x, comm::Communicator& tp, const std::vector<int64_t>& widths) {
  if (tp.size() == 1) return x;
  AUTOGLM_CHECK(static_cast<int>(widths.size()) == tp.size(), "gatherColumns: ", widths.size(), " widths for ",
                tp.size(), " ranks");
  int64_t offset = 0;
  for (int r = 0; r < tp.rank(); ++r) offset += widths[static_cast<size_t>(r)];
  return GatherColumns::apply(x, handle(tp), offset);
}

uint64_t shardedSeed(uint64_t seed, int tp_rank) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(tp_rank + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace autoglm::parallel::tensor_parallel
