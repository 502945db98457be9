#include "parallel/tensor_parallel/sharded_parts.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/functional/activation.h>

#include "core/model/fast_dropout.h"
#include "core/model/gat_attention.h"
#include "parallel/tensor_parallel/tp_ops.h"

namespace autoglm::parallel::tensor_parallel {
namespace {

using core::model::ParamShard;

// A slice of a full tensor as a new parameter of its own.
at::Tensor slice(const at::Tensor& full, int64_t dim, int64_t offset, int64_t n) {
  return full.detach().narrow(dim, offset, n).contiguous().clone();
}

// A parameter named like the full part's ("proj.weight"): the module names
// come from holders, so that checkpoints match names across layouts.
struct Holder : torch::nn::Module {};

at::Tensor addParam(torch::nn::Module& part, const std::string& name, at::Tensor t) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return part.register_parameter(name, std::move(t));
  const std::string child = name.substr(0, dot);
  auto children = part.named_children();
  std::shared_ptr<torch::nn::Module> holder =
      children.contains(child) ? children[child] : part.register_module(child, std::make_shared<Holder>());
  return holder->register_parameter(name.substr(dot + 1), std::move(t));
}

// Dropout of an activation of which this rank holds a slice (tp_ops.h).
at::Tensor shardedDropout(const at::Tensor& x, double p, bool training, int tp_rank) {
  if (!training || p <= 0.0) return x;
  const uint64_t seed = shardedSeed(core::model::nextDropoutSeed(), tp_rank);
  return x * core::model::dropoutMask(x.sizes(), p, seed, x.options());
}

}  // namespace

VocabParallelEmbedding::VocabParallelEmbedding(const core::model::TokenEmbedding& full,
                                               std::shared_ptr<comm::Communicator> tp)
    : tp_(std::move(tp)), vocab_(full.table().size(0)), dropout_(full.dropout()), sparse_(full.rowSparseGradients()) {
  lo_ = partitionOffset(vocab_, tp_->size(), tp_->rank());
  const int64_t rows = partitionSizes(vocab_, tp_->size())[static_cast<size_t>(tp_->rank())];
  weight_ = register_parameter("weight", slice(full.table(), 0, lo_, rows));
}

at::Tensor VocabParallelEmbedding::forward(const at::Tensor&, const core::graph::GraphBatch& g) {
  const int64_t rows = weight_.size(0);
  const at::Tensor mine = (g.tokens >= lo_).logical_and(g.tokens < lo_ + rows);
  const at::Tensor local = (g.tokens - lo_).masked_fill(mine.logical_not(), 0);
  at::Tensor part;
  if (sparse_) {
    // Only the positions this shard holds look up a row, so that its gradient
    // names none of the rows it does not own (not even row 0 for the others).
    const at::Tensor pos = mine.nonzero().squeeze(1);
    const at::Tensor rows_out =
        at::embedding(weight_, local.index_select(0, pos), /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, true);
    part = at::zeros({g.tokens.size(0), weight_.size(1)}, weight_.options()).index_copy(0, pos, rows_out);
  } else {
    part = at::embedding(weight_, local) * mine.unsqueeze(1).to(weight_.scalar_type());
  }
  return core::model::fastDropout(reduceFromTensorParallel(part, *tp_), dropout_, is_training());
}

std::vector<std::string> VocabParallelEmbedding::useRowSparseGradients() {
  sparse_ = true;
  return {"weight"};
}

std::optional<ParamShard> VocabParallelEmbedding::shardOf(const std::string& param) const {
  if (param == "weight") return ParamShard{0, lo_, vocab_};
  return std::nullopt;
}

HeadParallelGAT::HeadParallelGAT(const core::model::GATLayer& full, std::shared_ptr<comm::Communicator> tp)
    : tp_(std::move(tp)), opts_(full.options()) {
  const auto sizes = partitionSizes(opts_.heads, tp_->size());
  head0_ = partitionOffset(opts_.heads, tp_->size(), tp_->rank());
  heads_ = sizes[static_cast<size_t>(tp_->rank())];
  for (int64_t s : sizes) widths_.push_back(s * opts_.head_dim);
  const int64_t F = opts_.head_dim, c0 = head0_ * F, cn = heads_ * F;
  proj_ = addParam(*this, "proj.weight", slice(full.projWeight(), 0, c0, cn));
  att_src_ = register_parameter("att_src", slice(full.attSrc(), 0, head0_, heads_));
  att_dst_ = register_parameter("att_dst", slice(full.attDst(), 0, head0_, heads_));
  bias_ = register_parameter("bias", slice(full.bias(), 0, c0, cn));
  if (full.attEdge().defined()) att_edge_ = register_parameter("att_edge", slice(full.attEdge(), 1, head0_, heads_));
  if (full.resProjWeight().defined()) {
    res_proj_ = addParam(*this, "res_proj.weight", slice(full.resProjWeight(), 0, c0, cn));
  }
}

at::Tensor HeadParallelGAT::forward(const at::Tensor& h, const core::graph::GraphBatch& g) {
  const int64_t N = h.size(0), F = opts_.head_dim, c0 = head0_ * F, cn = heads_ * F;
  const at::Tensor hin = copyToTensorParallel(h, *tp_);
  const at::Tensor x = at::matmul(hin, proj_.t()).view({N, heads_, F});
  const at::Tensor s_src = (x * att_src_.unsqueeze(0)).sum(-1);
  const at::Tensor s_dst = (x * att_dst_.unsqueeze(0)).sum(-1);
  at::Tensor mask;
  if (is_training() && opts_.attn_dropout > 0.0) {
    const uint64_t seed = shardedSeed(core::model::nextDropoutSeed(), tp_->rank());
    mask = core::model::dropoutMask({g.num_edges, heads_}, opts_.attn_dropout, seed, x.options());
  }
  const at::Tensor edge_bias = att_edge_.defined() ? core::model::edgeTypeBias(att_edge_, g) : at::Tensor();
  const core::model::AttentionResult r =
      core::model::gatAttention(x, s_src, s_dst, g, opts_.negative_slope, mask, opts_.impl, edge_bias);
  at::Tensor out = r.out.reshape({N, cn}) + bias_;
  if (opts_.residual) out = out + (res_proj_.defined() ? at::matmul(hin, res_proj_.t()) : hin.narrow(1, c0, cn));
  out = shardedDropout(torch::elu(out), opts_.dropout, is_training(), tp_->rank());
  return gatherColumns(out, *tp_, widths_);
}

std::optional<ParamShard> HeadParallelGAT::shardOf(const std::string& param) const {
  const int64_t F = opts_.head_dim;
  if (param == "proj.weight" || param == "bias" || param == "res_proj.weight") {
    return ParamShard{0, head0_ * F, opts_.heads * F};
  }
  if (param == "att_src" || param == "att_dst") return ParamShard{0, head0_, opts_.heads};
  if (param == "att_edge" && att_edge_.defined()) return ParamShard{1, head0_, opts_.heads};
  return std::nullopt;
}

ParallelHead::ParallelHead(const core::model::ClassifierHead& full, std::shared_ptr<comm::Communicator> tp)
    : tp_(std::move(tp)), dropout_(full.dropout()) {
  const auto& hidden = full.hidden();
  const auto& out = full.out();
  hidden_ = hidden ? hidden->weight.size(0) : 0;
  lo_ = partitionOffset(hidden_, tp_->size(), tp_->rank());
  const int64_t n = hidden ? partitionSizes(hidden_, tp_->size())[static_cast<size_t>(tp_->rank())] : 0;
  if (hidden) {
    hidden_w_ = addParam(*this, "hidden.weight", slice(hidden->weight, 0, lo_, n));
    hidden_b_ = addParam(*this, "hidden.bias", slice(hidden->bias, 0, lo_, n));
    out_w_ = addParam(*this, "out.weight", slice(out->weight, 1, lo_, n));
  } else {
    out_w_ = addParam(*this, "out.weight", slice(out->weight, 0, 0, out->weight.size(0)));
  }
  out_b_ = addParam(*this, "out.bias", slice(out->bias, 0, 0, out->bias.size(0)));
}

at::Tensor ParallelHead::forward(const at::Tensor& x, const core::graph::GraphBatch&) {
  if (hidden_ == 0) return at::matmul(x, out_w_.t()) + out_b_;
  const at::Tensor z = copyToTensorParallel(x, *tp_);
  at::Tensor h = torch::relu(at::matmul(z, hidden_w_.t()) + hidden_b_);
  h = shardedDropout(h, dropout_, is_training(), tp_->rank());
  return reduceFromTensorParallel(at::matmul(h, out_w_.t()), *tp_) + out_b_;
}

std::optional<ParamShard> ParallelHead::shardOf(const std::string& param) const {
  if (hidden_ == 0) return std::nullopt;
  if (param == "hidden.weight" || param == "hidden.bias") return ParamShard{0, lo_, hidden_};
  if (param == "out.weight") return ParamShard{1, lo_, hidden_};
  return std::nullopt;
}

}  // namespace autoglm::parallel::tensor_parallel
