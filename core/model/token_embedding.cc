#include "core/model/token_embedding.h"

#include <ATen/Functions.h>
#include <torch/nn/init.h>

#include "core/error.h"
#include "core/model/fast_dropout.h"

namespace autoglm::core::model {

TokenEmbedding::TokenEmbedding(int64_t vocab_size, int64_t dim, double dropout) : dropout_(dropout) {
  weight_ = register_parameter("weight", at::empty({vocab_size, dim}));
  // Two draws, as torch::nn::Embedding's own N(0, 1) initialisation followed by
  // ours, so that a seed gives the same model as before this class existed.
  torch::nn::init::normal_(weight_);
  torch::nn::init::normal_(weight_, 0.0, 0.1);
}

at::Tensor TokenEmbedding::forward(const at::Tensor& /*x*/, const graph::GraphBatch& g) {
  return fastDropout(at::embedding(weight_, g.tokens, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, sparse_),
                     dropout_, is_training());
}

std::vector<std::string> TokenEmbedding::useRowSparseGradients() {
  sparse_ = true;
  return {"weight"};
}

void TokenEmbedding::setTable(const at::Tensor& table) {
  AUTOGLM_CHECK(table.sizes() == weight_.sizes(), "embedding table ", table.sizes(), " does not match ",
                weight_.sizes());
  at::NoGradGuard no_grad;
  weight_.copy_(table);
}

}  // namespace autoglm::core::model
