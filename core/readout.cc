#include "core/readout.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include "core/error.h"

namespace autoglm::core {
namespace {

at::Tensor segmentMean(const at::Tensor& h, const GraphBatch& g) {
  at::Tensor sum = at::zeros({g.num_graphs, h.size(1)}, h.options()).index_add(0, g.node_graph, h);
  at::Tensor counts = (g.graph_ptr.slice(0, 1) - g.graph_ptr.slice(0, 0, -1)).clamp_min(1).to(h.scalar_type());
  return sum / counts.unsqueeze(1);
}

at::Tensor segmentMax(const at::Tensor& h, const GraphBatch& g) {
  at::Tensor idx = g.node_graph.unsqueeze(1).expand_as(h);
  return at::zeros({g.num_graphs, h.size(1)}, h.options())
      .scatter_reduce(0, idx, h, "amax", /*include_self=*/false);
}

}  // namespace

ReadoutImpl::ReadoutImpl(std::string kind, int64_t dim) : kind_(std::move(kind)), dim_(dim) {
  if (kind_ == "attention") {
    gate_ = register_module("gate", torch::nn::Linear(dim, 1));
  } else if (kind_ != "mean_max" && kind_ != "mean" && kind_ != "max") {
    throw ConfigError("model.readout: unknown readout '" + kind_ + "' (mean_max, mean, max, attention)");
  }
}

at::Tensor ReadoutImpl::forward(const at::Tensor& h, const GraphBatch& g) {
  if (kind_ == "mean") return segmentMean(h, g);
  if (kind_ == "max") return segmentMax(h, g);
  if (kind_ == "mean_max") return at::cat({segmentMean(h, g), segmentMax(h, g)}, 1);
  // attention pooling: segment softmax of the gate logits
  at::Tensor logit = gate_->forward(h).squeeze(1);  // [N]
  at::Tensor lmax = at::zeros({g.num_graphs}, h.options())
                        .scatter_reduce(0, g.node_graph, logit.detach(), "amax", false);
  at::Tensor e = at::exp(logit - lmax.index_select(0, g.node_graph));
  at::Tensor denom = at::zeros({g.num_graphs}, h.options()).index_add(0, g.node_graph, e);
  at::Tensor w = e / denom.index_select(0, g.node_graph);
  return at::zeros({g.num_graphs, h.size(1)}, h.options()).index_add(0, g.node_graph, h * w.unsqueeze(1));
}

}  // namespace autoglm::core
