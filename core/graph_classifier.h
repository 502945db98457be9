#pragma once
// Text-graph classifier: token embedding -> GAT encoder (a list of uniform
// blocks) -> graph readout -> MLP head producing class logits.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <string>

#include "core/gat_layer.h"
#include "core/readout.h"
#include "core/yaml_config.h"

namespace autoglm::core {

struct ModelConfig {
  int64_t embed_dim = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t head_dim = 32;
  double dropout = 0.5;        // on embeddings, between blocks and in the head
  double attn_dropout = 0.1;
  double negative_slope = 0.2;
  bool residual = true;
  std::string readout = "mean_max";
  int64_t head_hidden = 128;   // 0 = linear head
  std::string attention = "fused";  // fused | reference
  std::string embed_init = "random";  // random | ppmi_svd (from training co-occurrences)

  template <class V>
  void visit(V& v) {
    v.field("embed_dim", embed_dim, check::atLeast<int64_t>(1));
    v.field("layers", layers, check::atLeast<int64_t>(1));
    v.field("heads", heads, check::atLeast<int64_t>(1));
    v.field("head_dim", head_dim, check::atLeast<int64_t>(1));
    v.field("dropout", dropout, check::openFraction());
    v.field("attn_dropout", attn_dropout, check::openFraction());
    v.field("negative_slope", negative_slope, check::atLeast(0.0));
    v.field("residual", residual);
    v.field("readout", readout, check::oneOf({"mean_max", "mean", "max", "attention"}));
    v.field("head_hidden", head_hidden, check::atLeast<int64_t>(0));
    v.field("attention", attention, check::oneOf({"fused", "reference"}));
    v.field("embed_init", embed_init, check::oneOf({"random", "ppmi_svd"}));
  }
};

class GraphClassifierImpl : public torch::nn::Module {
 public:
  GraphClassifierImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes);

  at::Tensor forward(const GraphBatch& g);             // logits [B, C]
  at::Tensor encode(const GraphBatch& g);              // graph vectors [B, D]
  torch::nn::ModuleList& blocks() { return blocks_; }
  void setAttentionImpl(AttentionImpl impl);
  // Replaces the embedding table ([vocab, embed_dim]).
  void setEmbeddings(const at::Tensor& table);

 private:
  ModelConfig cfg_;
  torch::nn::Embedding embed_{nullptr};
  torch::nn::ModuleList blocks_;
  Readout readout_{nullptr};
  torch::nn::Linear hidden_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(GraphClassifier);

}  // namespace autoglm::core
