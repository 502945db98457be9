#include "core/model/token_embedding.h"

#include <ATen/Functions.h>
#include <torch/nn/init.h>

#include "core/error.h"
#include "core/model/fast_dropout.h"

namespace autoglm::core::model {

TokenEmbedding::TokenEmbedding(int64_t vocab_size, int64_t dim, double dropout, EmbeddingShape shape)
    : dropout_(dropout) {
  const int64_t table_dim = shape.table_dim > 0 ? shape.table_dim : dim;
  weight_ = register_parameter("weight", at::empty({vocab_size, table_dim}));
  // Two draws, as torch::nn::Embedding's own N(0, 1) initialisation followed by
  // ours, so that a seed gives the same model as before this class existed.
  torch::nn::init::normal_(weight_);
  torch::nn::init::normal_(weight_, 0.0, 0.1);
  if (shape.scaled_rows) {
    // The initial rows move into base; the trained offset starts at zero.
    base_ = register_parameter("base", weight_.detach().clone(), /*requires_grad=*/false);
    row_scale_ = register_parameter("row_scale", at::ones({vocab_size, 1}), /*requires_grad=*/false);
    at::NoGradGuard no_grad;
    weight_.zero_();
  }
  if (table_dim != dim) proj_ = register_module("proj", torch::nn::Linear(table_dim, dim));
}

at::Tensor TokenEmbedding::forward(const at::Tensor& /*x*/, const graph::GraphBatch& g) {
  at::Tensor e = at::embedding(weight_, g.tokens, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, sparse_);
  if (base_.defined()) e = at::embedding(base_, g.tokens) + e * at::embedding(row_scale_, g.tokens);
  if (proj_) e = proj_->forward(e);
  return fastDropout(e, dropout_, is_training());
}

void TokenEmbedding::setPretrained(const at::Tensor& table, const at::Tensor& from_file, double lr_scale) {
  at::NoGradGuard no_grad;
  if (!base_.defined()) {
    AUTOGLM_CHECK(lr_scale == 1.0, "a learning-rate scale of pretrained rows needs an embedding with scaled rows");
    setTable(table);
    return;
  }
  AUTOGLM_CHECK(table.sizes() == base_.sizes(), "embedding table ", table.sizes(), " does not match ", base_.sizes());
  base_.copy_(table);
  weight_.zero_();
  row_scale_.fill_(1.0);
  row_scale_.masked_fill_(from_file.to(at::kBool).unsqueeze(1), lr_scale);
}

at::Tensor TokenEmbedding::effectiveTable() const {
  if (!base_.defined()) return weight_.detach();
  return (base_ + row_scale_ * weight_).detach();
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
