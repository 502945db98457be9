#include "core/graph_classifier.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

#include "core/error.h"
#include "core/fast_dropout.h"

namespace autoglm::core {

GraphClassifierImpl::GraphClassifierImpl(const ModelConfig& cfg, int64_t vocab_size,
                                         int64_t num_classes)
    : cfg_(cfg) {
  embed_ = register_module("embed", torch::nn::Embedding(vocab_size, cfg.embed_dim));
  torch::nn::init::normal_(embed_->weight, 0.0, 0.1);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  const AttentionImpl impl = cfg.attention == "reference" ? AttentionImpl::kReference : AttentionImpl::kFused;
  int64_t dim = cfg.embed_dim;
  for (int64_t l = 0; l < cfg.layers; ++l) {
    GATLayerOptions o;
    o.in_dim = dim;
    o.heads = cfg.heads;
    o.head_dim = cfg.head_dim;
    o.negative_slope = cfg.negative_slope;
    o.attn_dropout = cfg.attn_dropout;
    o.dropout = cfg.dropout;
    o.residual = cfg.residual;
    o.impl = impl;
    blocks_->push_back(GATLayer(o));
    dim = cfg.heads * cfg.head_dim;
  }
  readout_ = register_module("readout", Readout(cfg.readout, dim));
  int64_t rd = readout_->outDim();
  if (cfg.head_hidden > 0) {
    hidden_ = register_module("hidden", torch::nn::Linear(rd, cfg.head_hidden));
    rd = cfg.head_hidden;
  }
  out_ = register_module("out", torch::nn::Linear(rd, num_classes));
}

at::Tensor GraphClassifierImpl::encode(const GraphBatch& g) {
  at::Tensor h = embed_->forward(g.tokens);
  h = fastDropout(h, cfg_.dropout, is_training());
  for (auto& m : *blocks_) h = m->as<GATLayerImpl>()->forward(h, g);
  return readout_->forward(h, g);
}

at::Tensor GraphClassifierImpl::forward(const GraphBatch& g) {
  at::Tensor z = encode(g);
  if (hidden_) {
    z = torch::relu(hidden_->forward(z));
    z = fastDropout(z, cfg_.dropout, is_training());
  }
  return out_->forward(z);
}

void GraphClassifierImpl::setEmbeddings(const at::Tensor& table) {
  AUTOGLM_CHECK(table.sizes() == embed_->weight.sizes(), "embedding table ", table.sizes(), " does not match ",
                embed_->weight.sizes());
  at::NoGradGuard no_grad;
  embed_->weight.copy_(table);
}

void GraphClassifierImpl::setAttentionImpl(AttentionImpl impl) {
  for (auto& m : *blocks_) m->as<GATLayerImpl>()->setImpl(impl);
}

}  // namespace autoglm::core
