#pragma once
// The model's last part: graph vectors [B, in] -> class logits [B, classes],
// through one hidden layer (Linear, ReLU, dropout) unless hidden == 0.

#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "core/model/model_part.h"

namespace autoglm::core::model {

class ClassifierHead final : public ModelPart {
 public:
  ClassifierHead(int64_t in_dim, int64_t hidden, int64_t num_classes, double dropout);
  at::Tensor forward(const at::Tensor& x, const graph::GraphBatch& g) override;
  // Layers, for a sharded version built from this head (tensor parallel).
  const torch::nn::Linear& hidden() const { return hidden_; }  // null for a linear head
  const torch::nn::Linear& out() const { return out_; }
  double dropout() const { return dropout_; }

 private:
  torch::nn::Linear hidden_{nullptr};  // absent for a linear head
  torch::nn::Linear out_{nullptr};
  double dropout_;
};

}  // namespace autoglm::core::model
