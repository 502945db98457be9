#include "core/model/contrastive.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/functional/activation.h>

#include <limits>

#include "core/error.h"
#include "core/model/exit_head.h"
#include "core/model/fast_dropout.h"
#include "core/model/readout.h"

namespace autoglm::core::model {

at::Tensor infoNceLoss(const at::Tensor& z1, const at::Tensor& z2, double temperature) {
  AUTOGLM_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(), "infoNceLoss: the views' shapes differ: ", z1.sizes(),
                " and ", z2.sizes());
  const int64_t b = z1.size(0);
  AUTOGLM_CHECK(b >= 2, "infoNceLoss: needs at least 2 graphs per batch (got ", b, "): the others are the negatives");
  AUTOGLM_CHECK(temperature > 0.0, "infoNceLoss: temperature must be > 0 (got ", temperature, ")");
  const at::Tensor z = at::cat({z1, z2}, 0);
  const at::Tensor n = z / z.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12);
  at::Tensor logits = at::mm(n, n.t()) / temperature;
  const at::Tensor self = at::eye(2 * b, logits.options().dtype(at::kBool));
  logits = logits.masked_fill(self, -std::numeric_limits<double>::infinity());
  // Anchor i < B pairs with i + B, anchor i >= B with i - B.
  const at::Tensor idx = at::arange(b, at::TensorOptions().dtype(at::kLong));
  const at::Tensor target = at::cat({idx + b, idx}, 0);
  return at::cross_entropy_loss(logits, target);
}

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in_dim, int64_t dim) {
  hidden_ = register_module("hidden", torch::nn::Linear(in_dim, dim));
  out_ = register_module("out", torch::nn::Linear(dim, dim));
}

at::Tensor ProjectionHeadImpl::forward(const at::Tensor& x) { return out_->forward(torch::relu(hidden_->forward(x))); }

at::Tensor encodeGraphs(GraphClassifierImpl& model, const graph::GraphBatch& g, double feature_dropout) {
  AUTOGLM_CHECK(model.part("embed") != nullptr && model.part("readout") != nullptr,
                "encodeGraphs needs the embedding and readout parts; this model holds a slice");
  at::Tensor h;
  for (const auto& name : model.partNames()) {
    if (name == "head") break;
    const auto p = model.part(name);
    if (p == nullptr || std::dynamic_pointer_cast<ExitHead>(p)) continue;
    h = p->forward(h, g);
    if (name == "embed" && feature_dropout > 0.0) h = fastDropout(h, feature_dropout, /*training=*/true);
  }
  return h;
}

int64_t encoderDim(const GraphClassifierImpl& model) {
  const auto readout = model.partAs<Readout>("readout");
  AUTOGLM_CHECK(readout != nullptr, "encoderDim: the model's readout part is absent or not a Readout");
  return readout->outDim();
}

}  // namespace autoglm::core::model
