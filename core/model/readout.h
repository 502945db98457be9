#pragma once
// Pools node states into one vector per graph (the model part "readout").
//   mean_max:  [mean || max] over each graph's nodes (2*dim)
//   mean, max: one of them (dim)
//   attention: softmax-gated sum, gate = Linear(dim, 1) per node (dim)
//   gated:     TextING's readout: each node's sigmoid(Linear(h)) * tanh(Linear(h)),
//              then [mean || max] of those over the graph (2*dim)

#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "core/model/model_config.h"
#include "core/model/model_part.h"

namespace autoglm::core::model {

class Readout final : public ModelPart {
 public:
  Readout(ReadoutKind kind, int64_t dim);
  at::Tensor forward(const at::Tensor& h, const graph::GraphBatch& g) override;
  int64_t outDim() const {
    return kind_ == ReadoutKind::kMeanMax || kind_ == ReadoutKind::kGated ? 2 * dim_ : dim_;
  }

 private:
  ReadoutKind kind_;
  int64_t dim_;
  torch::nn::Linear gate_{nullptr};  // attention and gated
  torch::nn::Linear value_{nullptr};  // gated
};

}  // namespace autoglm::core::model
