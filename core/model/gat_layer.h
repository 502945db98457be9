#pragma once
// One multi-head graph-attention block, a model part ("block0", "block1", ...):
// GAT attention with concatenated heads, optional residual connection, then
// ELU and dropout: node states [N, in] -> [N, heads*head_dim].

#include <torch/nn/modules/linear.h>

#include "core/model/gat_attention.h"
#include "core/model/model_part.h"

namespace autoglm::core::model {

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

class GATLayer final : public ModelPart {
 public:
  explicit GATLayer(const GATLayerOptions& opts);
  at::Tensor forward(const at::Tensor& h, const graph::GraphBatch& g) override;
  // Attention weights [E,H] of the last forward (before dropout).
  const at::Tensor& lastAttention() const { return last_alpha_; }
  int64_t outDim() const { return opts_.heads * opts_.head_dim; }
  const GATLayerOptions& options() const { return opts_; }
  // The weights, for a sharded version built from this block (tensor parallel).
  const at::Tensor& projWeight() const { return proj_->weight; }        // [heads*head_dim, in]
  at::Tensor resProjWeight() const { return res_proj_ ? res_proj_->weight : at::Tensor(); }
  const at::Tensor& attSrc() const { return att_src_; }                 // [heads, head_dim]
  const at::Tensor& attDst() const { return att_dst_; }
  const at::Tensor& bias() const { return bias_; }                      // [heads*head_dim]

 private:
  GATLayerOptions opts_;
  torch::nn::Linear proj_{nullptr};
  torch::nn::Linear res_proj_{nullptr};  // only when in_dim != heads*head_dim
  at::Tensor att_src_, att_dst_, bias_;
  at::Tensor last_alpha_;
};

}  // namespace autoglm::core::model
