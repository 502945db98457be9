#include "core/model/classifier_head.h"

#include <torch/nn/functional/activation.h>

#include "core/model/fast_dropout.h"

namespace autoglm::core::model {

ClassifierHead::ClassifierHead(int64_t in_dim, int64_t hidden, int64_t num_classes, double dropout)
    : dropout_(dropout) {
  int64_t dim = in_dim;
  if (hidden > 0) {
    hidden_ = register_module("hidden", torch::nn::Linear(dim, hidden));
    dim = hidden;
  }
  out_ = register_module("out", torch::nn::Linear(dim, num_classes));
}

at::Tensor ClassifierHead::forward(const at::Tensor& x, const graph::GraphBatch& /*g*/) {
  at::Tensor z = x;
  if (hidden_) {
    z = torch::relu(hidden_->forward(z));
    z = fastDropout(z, dropout_, is_training());
  }
  return out_->forward(z);
}

}  // namespace autoglm::core::model
