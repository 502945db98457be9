#include "core/model/gat_layer.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

#include <cmath>

#include "core/error.h"
#include "core/model/fast_dropout.h"

namespace autoglm::core::model {

at::Tensor edgeTypeBias(const at::Tensor& att_edge, const graph::GraphBatch& g) {
  const int64_t types = att_edge.size(0);
  if (!g.edge_type.defined()) {
    throw DataError(detail::concat("relation-aware attention (", types,
                                   " edge types) needs the batch's edge types, and this batch has none"));
  }
  if (g.edge_type.size(0) != g.num_edges) {
    throw DataError(detail::concat("the batch has ", g.num_edges, " edges but ", g.edge_type.size(0),
                                   " edge types"));
  }
  if (g.num_edges > 0) {
    const auto [lo, hi] = g.edge_type.aminmax();
    const int64_t l = lo.item<int64_t>(), h = hi.item<int64_t>();
    if (l < 0 || h >= types) {
      throw DataError(detail::concat("edge types of the batch span [", l, ", ", h,
                                     "], outside the model's [0, ", types, ")"));
    }
  }
  return att_edge.index_select(0, g.edge_type);
}

GATLayer::GATLayer(const GATLayerOptions& opts) : opts_(opts) {
  const int64_t out = opts.heads * opts.head_dim;
  proj_ = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(opts.in_dim, out).bias(false)));
  att_src_ = register_parameter("att_src", torch::empty({opts.heads, opts.head_dim}));
  att_dst_ = register_parameter("att_dst", torch::empty({opts.heads, opts.head_dim}));
  bias_ = register_parameter("bias", torch::zeros({out}));
  torch::nn::init::xavier_uniform_(proj_->weight);
  torch::nn::init::xavier_uniform_(att_src_);
  torch::nn::init::xavier_uniform_(att_dst_);
  if (opts.edge_types > 0) {
    att_edge_ = register_parameter("att_edge", torch::zeros({opts.edge_types, opts.heads}));
  }
  if ((opts.residual || opts.gated) && opts.in_dim != out) {
    res_proj_ = register_module(
        "res_proj", torch::nn::Linear(torch::nn::LinearOptions(opts.in_dim, out).bias(false)));
  }
  if (opts.gated) gru_ = register_module("gru", torch::nn::GRUCell(out, out));
}

at::Tensor GATLayer::forward(const at::Tensor& h, const graph::GraphBatch& g) {
  const int64_t N = h.size(0), H = opts_.heads, F = opts_.head_dim;
  at::Tensor x = proj_->forward(h).view({N, H, F});
  at::Tensor s_src = (x * att_src_.unsqueeze(0)).sum(-1);
  at::Tensor s_dst = (x * att_dst_.unsqueeze(0)).sum(-1);
  at::Tensor mask;
  if (is_training() && opts_.attn_dropout > 0.0) {
    mask = dropoutMask({g.num_edges, H}, opts_.attn_dropout, nextDropoutSeed(), x.options());
  }
  at::Tensor edge_bias = att_edge_.defined() ? edgeTypeBias(att_edge_, g) : at::Tensor();
  if (extra_bias_.defined()) {
    if (extra_bias_.dim() != 2 || extra_bias_.size(0) != g.num_edges || extra_bias_.size(1) != H) {
      throw DataError(detail::concat("extra edge bias of shape ", extra_bias_.sizes(), " for a batch of ",
                                     g.num_edges, " edges and ", H, " heads"));
    }
    edge_bias = edge_bias.defined() ? edge_bias + extra_bias_ : extra_bias_.contiguous();
  }
  AttentionResult r = gatAttention(x, s_src, s_dst, g, opts_.negative_slope, mask, opts_.impl, edge_bias);
  last_alpha_ = r.alpha.detach();
  at::Tensor out = r.out.reshape({N, H * F}) + bias_;
  if (gru_) {
    out = gru_->forward(out, res_proj_ ? res_proj_->forward(h) : h);
  } else {
    if (opts_.residual) out = out + (res_proj_ ? res_proj_->forward(h) : h);
    out = torch::elu(out);
  }
  return fastDropout(out, opts_.dropout, is_training());
}

}  // namespace autoglm::core::model
