#pragma once
// Graph-attention message passing over a GraphBatch.
//
// For every node v and head h:
//   z[e,h]     = LeakyReLU(s_src[src(e),h] + s_dst[v,h] + b[e,h])  for e in in(v)
//   alpha[e,h] = softmax over in(v) of z[.,h]
//   out[v,h,:] = sum_e alpha[e,h] * mask[e,h] * x[src(e),h,:]
// where mask is the attention-dropout mask (0 or 1/(1-p)), or absent, and b is
// the optional per-edge bias of relation-aware attention (an edge-type
// embedding looked up per edge, gat_layer.h), or 0.
//
// Two implementations with identical results:
//   kFused     - hand-written CPU kernels (forward and backward), parallel over
//                nodes through the CSR views of the batch: no [E,H,F] message
//                tensor, no atomics, deterministic;
//   kReference - composed of differentiable ATen ops (index_select, scatter,
//                index_add); the baseline the fused kernel is tested against.

#include <ATen/core/Tensor.h>

#include "core/graph/graph_batch.h"
#include "core/model/model_config.h"

namespace autoglm::core::model {

struct AttentionResult {
  at::Tensor out;    // [N,H,F]
  at::Tensor alpha;  // [E,H] attention weights before dropout (for inspection/tests)
};

// x: [N,H,F], s_src/s_dst: [N,H]; float32 or float64, CPU. mask: [E,H] or undefined.
// edge_bias: [E,H] of x's dtype, or undefined (none); differentiable in both
// implementations (its gradient is that of the pre-activation logits).
AttentionResult gatAttention(const at::Tensor& x, const at::Tensor& s_src, const at::Tensor& s_dst,
                             const graph::GraphBatch& g, double negative_slope, const at::Tensor& mask,
                             AttentionImpl impl, const at::Tensor& edge_bias = at::Tensor());

}  // namespace autoglm::core::model
