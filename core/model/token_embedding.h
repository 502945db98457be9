#pragma once
// The model's first part: token ids of the batch -> node states [N, dim],
// followed by dropout. Rows are initialised N(0, 0.1); setTable() replaces
// them (embedding initialisation from co-occurrences, ppmi_embedding.h). With
// row-sparse gradients, backward yields only the looked-up rows of the table.

#include <cstdint>

#include "core/model/model_part.h"

namespace autoglm::core::model {

class TokenEmbedding final : public ModelPart {
 public:
  TokenEmbedding(int64_t vocab_size, int64_t dim, double dropout);
  // x is ignored: the input is g.tokens.
  at::Tensor forward(const at::Tensor& x, const graph::GraphBatch& g) override;
  std::vector<std::string> useRowSparseGradients() override;
  bool rowSparseGradients() const { return sparse_; }
  // Replaces the table ([vocab_size, dim]).
  void setTable(const at::Tensor& table);
  const at::Tensor& table() const { return weight_; }
  double dropout() const { return dropout_; }

 private:
  at::Tensor weight_;
  double dropout_;
  bool sparse_ = false;
};

}  // namespace autoglm::core::model
