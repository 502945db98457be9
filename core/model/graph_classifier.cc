#include "core/model/graph_classifier.h"

#include "core/error.h"
#include "core/model/classifier_head.h"
#include "core/model/gat_layer.h"
#include "core/model/readout.h"
#include "core/model/token_embedding.h"

namespace autoglm::core::model {

GraphClassifierImpl::GraphClassifierImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes)
    : cfg_(cfg) {
  // Parts are made in forward order: their initialisation draws from the
  // default generator in that order.
  auto add = [this](std::string name, std::shared_ptr<ModelPart> p) {
    names_.push_back(name);
    parts_.push_back(register_module(std::move(name), std::move(p)));
  };
  add("embed", std::make_shared<TokenEmbedding>(vocab_size, cfg.embed_dim, cfg.dropout));
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
    o.impl = cfg.attention;
    add("block" + std::to_string(l), std::make_shared<GATLayer>(o));
    dim = cfg.heads * cfg.head_dim;
  }
  auto readout = std::make_shared<Readout>(cfg.readout, dim);
  const int64_t pooled = readout->outDim();
  add("readout", readout);
  add("head", std::make_shared<ClassifierHead>(pooled, cfg.head_hidden, num_classes, cfg.dropout));
}

size_t GraphClassifierImpl::indexOf(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  std::string all;
  for (const auto& n : names_) all += (all.empty() ? "" : ", ") + n;
  throw Error("model has no part '" + name + "' (parts: " + all + ")");
}

std::shared_ptr<ModelPart> GraphClassifierImpl::part(const std::string& name) const {
  return parts_[indexOf(name)];
}

void GraphClassifierImpl::replacePart(const std::string& name, std::shared_ptr<ModelPart> p) {
  const size_t i = indexOf(name);
  AUTOGLM_CHECK(parts_[i] != nullptr, "cannot replace part '", name, "': it was removed");
  AUTOGLM_CHECK(p != nullptr, "replacing part '", name, "' with nothing (use keepParts)");
  parts_[i] = replace_module(name, std::move(p));
}

void GraphClassifierImpl::keepParts(size_t first, size_t last) {
  AUTOGLM_CHECK(first <= last && last < names_.size(), "keepParts(", first, ", ", last, ") outside the ",
                names_.size(), " parts");
  for (size_t i = 0; i < names_.size(); ++i) {
    if ((i < first || i > last) && parts_[i] != nullptr) {
      unregister_module(names_[i]);
      parts_[i] = nullptr;
    }
  }
}

at::Tensor GraphClassifierImpl::forward(const graph::GraphBatch& g) {
  AUTOGLM_CHECK(parts_.front() != nullptr, "forward(batch) needs the embedding part; this model holds a later slice");
  return forward(at::Tensor(), g);
}

at::Tensor GraphClassifierImpl::forward(const at::Tensor& x, const graph::GraphBatch& g) {
  at::Tensor h = x;
  for (const auto& p : parts_) {
    if (p) h = p->forward(h, g);
  }
  return h;
}

}  // namespace autoglm::core::model
