#include "core/model/readout.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "core/error.h"

namespace autoglm::core::model {
namespace {

at::Tensor segmentMean(const at::Tensor& h, const graph::GraphBatch& g) {
  at::Tensor sum = at::zeros({g.num_graphs, h.size(1)}, h.options()).index_add(0, g.node_graph, h);
  at::Tensor counts = (g.graph_ptr.slice(0, 1) - g.graph_ptr.slice(0, 0, -1)).clamp_min(1).to(h.scalar_type());
  return sum / counts.unsqueeze(1);
}

// Per graph and column, the largest node state; backward sends each output's
// gradient to the node that held the maximum (the first, on ties, as
// torch.max(dim) does; scatter_reduce's amax would split it among ties).
// Nodes of graph b are rows [graph_ptr[b], graph_ptr[b+1]) (GraphBatch); a
// graph without nodes pools to zeros. One pass over h, no [N, D] index tensor.
struct SegmentMax : public torch::autograd::Function<SegmentMax> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& h, const at::Tensor& graph_ptr) {
    const at::Tensor hc = h.contiguous();
    const int64_t B = graph_ptr.size(0) - 1, D = h.size(1);
    at::Tensor out = at::zeros({B, D}, h.options());
    at::Tensor arg = at::full({B, D}, -1, graph_ptr.options());
    const float* H = hc.data_ptr<float>();
    const int64_t* ptr = graph_ptr.data_ptr<int64_t>();
    float* O = out.data_ptr<float>();
    int64_t* A = arg.data_ptr<int64_t>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t lo = ptr[b], hi = ptr[b + 1];
        if (lo >= hi) continue;
        float* o = O + b * D;
        int64_t* a = A + b * D;
        for (int64_t d = 0; d < D; ++d) {
          o[d] = H[lo * D + d];
          a[d] = lo;
        }
        for (int64_t v = lo + 1; v < hi; ++v) {
          const float* row = H + v * D;
          for (int64_t d = 0; d < D; ++d) {
            // NaN wins, as in scatter_reduce's amax.
            if (row[d] > o[d] || (std::isnan(row[d]) && !std::isnan(o[d]))) {
              o[d] = row[d];
              a[d] = v;
            }
          }
        }
      }
    });
    ctx->save_for_backward({arg});
    ctx->saved_data["nodes"] = h.size(0);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor arg = ctx->get_saved_variables()[0];
    const at::Tensor g = grads[0].contiguous();
    const int64_t B = arg.size(0), D = arg.size(1);
    at::Tensor dh = at::zeros({ctx->saved_data["nodes"].toInt(), D}, g.options());
    const int64_t* A = arg.data_ptr<int64_t>();
    const float* G = g.data_ptr<float>();
    float* DH = dh.data_ptr<float>();
    // Each (graph, column) names a node of its own graph: no two writes meet.
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0 * D; i < b1 * D; ++i) {
        if (A[i] >= 0) DH[A[i] * D + i % D] = G[i];
      }
    });
    return {dh, at::Tensor()};
  }
};

at::Tensor segmentMax(const at::Tensor& h, const graph::GraphBatch& g) {
  if (h.device().is_cpu() && h.scalar_type() == at::kFloat && h.dim() == 2) {
    return SegmentMax::apply(h, g.graph_ptr);
  }
  at::Tensor idx = g.node_graph.unsqueeze(1).expand_as(h);
  return at::zeros({g.num_graphs, h.size(1)}, h.options())
      .scatter_reduce(0, idx, h, "amax", /*include_self=*/false);
}

}  // namespace

Readout::Readout(ReadoutKind kind, int64_t dim) : kind_(kind), dim_(dim) {
  if (kind_ == ReadoutKind::kAttention) gate_ = register_module("gate", torch::nn::Linear(dim, 1));
  if (kind_ == ReadoutKind::kGated) {
    gate_ = register_module("gate", torch::nn::Linear(dim, dim));
    value_ = register_module("value", torch::nn::Linear(dim, dim));
  }
}

at::Tensor Readout::forward(const at::Tensor& h, const graph::GraphBatch& g) {
  switch (kind_) {
    case ReadoutKind::kMean: return segmentMean(h, g);
    case ReadoutKind::kMax: return segmentMax(h, g);
    case ReadoutKind::kMeanMax: return at::cat({segmentMean(h, g), segmentMax(h, g)}, 1);
    case ReadoutKind::kAttention: break;
    case ReadoutKind::kGated: {
      const at::Tensor x = at::sigmoid(gate_->forward(h)) * at::tanh(value_->forward(h));
      return at::cat({segmentMean(x, g), segmentMax(x, g)}, 1);
    }
  }
  // attention pooling: segment softmax of the gate logits
  at::Tensor logit = gate_->forward(h).squeeze(1);  // [N]
  at::Tensor lmax = at::zeros({g.num_graphs}, h.options())
                        .scatter_reduce(0, g.node_graph, logit.detach(), "amax", false);
  at::Tensor e = at::exp(logit - lmax.index_select(0, g.node_graph));
  at::Tensor denom = at::zeros({g.num_graphs}, h.options()).index_add(0, g.node_graph, e);
  at::Tensor w = e / denom.index_select(0, g.node_graph);
  return at::zeros({g.num_graphs, h.size(1)}, h.options()).index_add(0, g.node_graph, h * w.unsqueeze(1));
}

}  // namespace autoglm::core::model
