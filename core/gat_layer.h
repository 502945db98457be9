#pragma once
// One multi-head graph-attention block: GAT attention with concatenated heads,
// optional residual connection, then ELU and dropout.
//
// Every encoder block has the same interface, forward(h [N,in], batch) ->
// [N, heads*head_dim], so the encoder is a plain list that pipeline stages can
// split and whose heads tensor parallelism can shard.

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "core/gat_attention.h"
#include "core/graph_batch.h"

namespace autoglm::core {

struct GATLayerOptions {
  int64_t in_dim = 128;
  int64_t heads = 4;
  int64_t head_dim = 32;
  double negative_slope = 0.2;
  double attn_dropout = 0.0;
  double dropout = 0.0;
  bool residual = true;
  AttentionImpl impl = AttentionImpl::kFused;
};

class GATLayerImpl : public torch::nn::Module {
 public:
  explicit GATLayerImpl(const GATLayerOptions& opts);
  at::Tensor forward(const at::Tensor& h, const GraphBatch& g);
  // Attention weights [E,H] of the last forward (before dropout).
  const at::Tensor& lastAttention() const { return last_alpha_; }
  int64_t outDim() const { return opts_.heads * opts_.head_dim; }
  void setImpl(AttentionImpl impl) { opts_.impl = impl; }

 private:
  GATLayerOptions opts_;
  torch::nn::Linear proj_{nullptr};
  torch::nn::Linear res_proj_{nullptr};  // only when in_dim != heads*head_dim
  at::Tensor att_src_, att_dst_, bias_;
  at::Tensor last_alpha_;
};
TORCH_MODULE(GATLayer);

}  // namespace autoglm::core
