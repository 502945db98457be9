#include "core/model/gat_layer.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

#include <cmath>

#include "core/model/fast_dropout.h"

namespace autoglm::core::model {

GATLayer::GATLayer(const GATLayerOptions& opts) : opts_(opts) {
  const int64_t out = opts.heads * opts.head_dim;
  proj_ = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(opts.in_dim, out).bias(false)));
  att_src_ = register_parameter("att_src", torch::empty({opts.heads, opts.head_dim}));
  att_dst_ = register_parameter("att_dst", torch::empty({opts.heads, opts.head_dim}));
  bias_ = register_parameter("bias", torch::zeros({out}));
  torch::nn::init::xavier_uniform_(proj_->weight);
  torch::nn::init::xavier_uniform_(att_src_);
  torch::nn::init::xavier_uniform_(att_dst_);
  if (opts.residual && opts.in_dim != out) {
    res_proj_ = register_module(
        "res_proj", torch::nn::Linear(torch::nn::LinearOptions(opts.in_dim, out).bias(false)));
  }
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
  AttentionResult r = gatAttention(x, s_src, s_dst, g, opts_.negative_slope, mask, opts_.impl);
  last_alpha_ = r.alpha.detach();
  at::Tensor out = r.out.reshape({N, H * F}) + bias_;
  if (opts_.residual) out = out + (res_proj_ ? res_proj_->forward(h) : h);
  out = torch::elu(out);
  return fastDropout(out, opts_.dropout, is_training());
}

}  // namespace autoglm::core::model
