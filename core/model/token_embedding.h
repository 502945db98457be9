#pragma once
// The model's first part: token ids of the batch -> node states [N, dim],
// followed by dropout. Rows are initialised N(0, 0.1); setTable() replaces
// them (embedding initialisation from co-occurrences, ppmi_embedding.h), and
// setPretrained() puts word vectors in (pretrained_embedding.h). With
// row-sparse gradients, backward yields only the looked-up rows of the table.
//
// Two options, for pretrained vectors (model_config.h, vectors_dim and
// vectors_lr), change the parameters:
//   - table_dim != dim: the table is [vocab, table_dim] and a learned linear
//     map "proj" takes its rows to dim;
//   - scaled rows: the looked-up row is base[id] + row_scale[id] * weight[id],
//     base and row_scale untrained parameters (so checkpoints keep them) and
//     weight a trained offset; with Adam-type optimizers a row's step is then
//     row_scale x the learning rate's (0 = frozen).

#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "core/model/model_part.h"

namespace autoglm::core::model {

struct EmbeddingShape {
  int64_t table_dim = 0;  // 0 = dim
  bool scaled_rows = false;
};

class TokenEmbedding final : public ModelPart {
 public:
  TokenEmbedding(int64_t vocab_size, int64_t dim, double dropout, EmbeddingShape shape = {});
  // x is ignored: the input is g.tokens.
  at::Tensor forward(const at::Tensor& x, const graph::GraphBatch& g) override;
  std::vector<std::string> useRowSparseGradients() override;
  bool rowSparseGradients() const { return sparse_; }
  // Replaces the table ([vocab_size, dim]).
  void setTable(const at::Tensor& table);
  // Puts pretrained rows in: table [vocab_size, table_dim]; `from_file` [vocab]
  // (bool) marks the rows that came from the file, whose scale is `lr_scale`
  // with scaled rows (the others' is 1). Without scaled rows the table is
  // copied into the weight and lr_scale must be 1.
  void setPretrained(const at::Tensor& table, const at::Tensor& from_file, double lr_scale);
  // The rows as looked up: base + row_scale * weight with scaled rows, else weight.
  at::Tensor effectiveTable() const;
  const at::Tensor& table() const { return weight_; }
  double dropout() const { return dropout_; }
  // True when the plain table is all there is (no projection, no scaled rows):
  // what a tensor-parallel plan can shard.
  bool plain() const { return !proj_ && !base_.defined(); }

 private:
  at::Tensor weight_;
  at::Tensor base_;       // scaled rows only
  at::Tensor row_scale_;  // [vocab, 1], scaled rows only
  torch::nn::Linear proj_{nullptr};
  double dropout_;
  bool sparse_ = false;
};

}  // namespace autoglm::core::model
