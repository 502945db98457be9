#include "core/model/graph_classifier.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include "core/error.h"
#include "core/graph/graph_types.h"
#include "core/model/classifier_head.h"
#include "core/model/exit_head.h"
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
    o.edge_types = cfg.relation_aware ? graph::kNumEdgeTypes : 0;
    add("block" + std::to_string(l), std::make_shared<GATLayer>(o));
    dim = cfg.heads * cfg.head_dim;
    if (cfg.early_exit && l + 1 < cfg.layers) {
      add("exit" + std::to_string(l),
          std::make_shared<ExitHead>(cfg.readout, dim, cfg.head_hidden, num_classes, cfg.dropout));
    }
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

std::vector<at::Tensor> GraphClassifierImpl::forwardExits(const graph::GraphBatch& g) {
  AUTOGLM_CHECK(parts_.front() != nullptr && parts_.back() != nullptr, "forwardExits needs every part");
  std::vector<at::Tensor> logits;
  at::Tensor h;
  for (const auto& p : parts_) {
    if (auto e = std::dynamic_pointer_cast<ExitHead>(p)) logits.push_back(e->classify(h, g));
    h = p->forward(h, g);
  }
  logits.push_back(h);
  return logits;
}

GraphClassifierImpl::EarlyExit GraphClassifierImpl::forwardEarlyExit(const graph::GraphBatch& g, double threshold) {
  AUTOGLM_CHECK(parts_.front() != nullptr && parts_.back() != nullptr, "forwardEarlyExit needs every part");
  EarlyExit out;
  out.exit_block = at::full({g.num_graphs}, cfg_.layers, at::TensorOptions().dtype(at::kLong));
  const bool exits = cfg_.early_exit && threshold < 1.0;
  graph::GraphBatch cur = g;
  at::Tensor alive = at::arange(g.num_graphs, at::TensorOptions().dtype(at::kLong));  // rows of g still in cur
  at::Tensor h;
  int64_t blocks = 0;
  for (const auto& p : parts_) {
    auto e = std::dynamic_pointer_cast<ExitHead>(p);
    if (e == nullptr) {
      if (std::dynamic_pointer_cast<GATLayer>(p)) ++blocks;
      h = p->forward(h, cur);
      continue;
    }
    if (!exits) continue;
    const at::Tensor logits = e->classify(h, cur);
    const at::Tensor leave = std::get<0>(at::softmax(logits, 1).max(1)).ge(threshold);
    if (!leave.any().item<bool>()) continue;
    const at::Tensor left = alive.masked_select(leave);
    if (!out.logits.defined()) out.logits = at::zeros({g.num_graphs, logits.size(1)}, logits.options());
    out.logits.index_copy_(0, left, logits.index_select(0, leave.nonzero().squeeze(1)));
    out.exit_block.index_fill_(0, left, blocks);
    if (left.numel() == alive.numel()) return out;
    at::Tensor nodes;
    cur = graph::subBatch(cur, leave.logical_not(), &nodes);
    h = h.index_select(0, nodes);
    alive = alive.masked_select(leave.logical_not());
  }
  if (!out.logits.defined()) {
    out.logits = h;
  } else {
    out.logits.index_copy_(0, alive, h);
  }
  return out;
}

}  // namespace autoglm::core::model
