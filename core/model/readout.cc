#include "core/model/readout.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include "core/error.h"

namespace autoglm::core::model {
namespace {

at::Tensor segmentMean(const at::Tensor& h, const graph::GraphBatch& g) {
  at::Tensor sum = at::zeros({g.num_graphs, h.size(1)}, h.options()).index_add(0, g.node_graph, h);
  at::Tensor counts = (g.graph_ptr.slice(0, 1) - g.graph_ptr.slice(0, 0, -1)).clamp_min(1).to(h.scalar_type());
  return sum / counts.unsqueeze(1);
}

at::Tensor segmentMax(const at::Tensor& h, const graph::GraphBatch& g) {
  at::Tensor idx = g.node_graph.unsqueeze(1).expand_as(h);
  return at::zeros({g.num_graphs, h.size(1)}, h.options())
      .scatter_reduce(0, idx, h, "amax", /*include_self=*/false);
}

}  // namespace

Readout::Readout(ReadoutKind kind, int64_t dim) : kind_(kind), dim_(dim) {
  if (kind_ == ReadoutKind::kAttention) gate_ = register_module("gate", torch::nn::Linear(dim, 1));
}

at::Tensor Readout::forward(const at::Tensor& h, const graph::GraphBatch& g) {
  switch (kind_) {
    case ReadoutKind::kMean: return segmentMean(h, g);
    case ReadoutKind::kMax: return segmentMax(h, g);
    case ReadoutKind::kMeanMax: return at::cat({segmentMean(h, g), segmentMax(h, g)}, 1);
    case ReadoutKind::kAttention: break;
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
