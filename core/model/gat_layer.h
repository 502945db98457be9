#pragma once
// One multi-head graph-attention block, a model part ("block0", "block1", ...):
// GAT attention with concatenated heads, optional residual connection, then
// ELU and dropout: node states [N, in] -> [N, heads*head_dim]. With a gated
// update the attention output m is instead the input of a GRU cell whose state
// is the block's input h (through "res_proj" when the widths differ):
// z = sigmoid(W_z m + U_z h), r = sigmoid(W_r m + U_r h),
// out = (1 - z) * h + z * tanh(W m + r * (U h)), then dropout (no ELU).
//
// Relation-aware (edge_types > 0): the block also owns "att_edge"
// [edge_types, heads], one learned logit offset per edge type and head, added to
// the attention logit of every edge of that type before the LeakyReLU
// (edge_bias = att_edge[g.edge_type], gat_attention.h). It starts at zero, so
// a relation-aware block starts as the plain one and its initialisation draws
// nothing from the generator (every other parameter is the plain model's at
// the same seed); the logits' gradient reaches it from the first step.

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <utility>

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
  bool gated = false;  // GRU update ("gru"); residual is then not used
  AttentionImpl impl = AttentionImpl::kFused;
  int64_t edge_types = 0;  // > 0: relation-aware attention over that many edge types; 0: plain GAT
};

// The per-edge attention bias [E,H] of relation-aware attention: the rows of
// att_edge ([types, H]) selected by g.edge_type. Throws DataError when the batch
// carries no edge types or one outside [0, types).
at::Tensor edgeTypeBias(const at::Tensor& att_edge, const graph::GraphBatch& g);

class GATLayer final : public ModelPart {
 public:
  explicit GATLayer(const GATLayerOptions& opts);
  at::Tensor forward(const at::Tensor& h, const graph::GraphBatch& g) override;
  // An additive attention-logit bias [E,H] for the edges of the batch of the
  // next forward calls (differentiable), or undefined for none. The caller sets
  // it for a batch and clears it after; forward throws DataError when its
  // shape does not match the batch's edges and heads.
  void setExtraEdgeBias(at::Tensor bias) { extra_bias_ = std::move(bias); }
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
  const at::Tensor& attEdge() const { return att_edge_; }  // [edge_types, heads], undefined when plain

 private:
  GATLayerOptions opts_;
  torch::nn::Linear proj_{nullptr};
  torch::nn::Linear res_proj_{nullptr};  // only when in_dim != heads*head_dim
  torch::nn::GRUCell gru_{nullptr};      // gated update only
  at::Tensor att_src_, att_dst_, bias_;
  at::Tensor att_edge_;  // only when edge_types > 0
  at::Tensor extra_bias_;  // set by setExtraEdgeBias, not a parameter
  at::Tensor last_alpha_;
};

}  // namespace autoglm::core::model
