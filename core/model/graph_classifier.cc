#include "core/model/graph_classifier.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include "core/error.h"
#include "core/graph/graph_types.h"
#include "core/graph/learned_edges.h"
#include "core/model/classifier_head.h"
#include "core/model/exit_head.h"
#include "core/model/gat_layer.h"
#include "core/model/readout.h"
#include "core/model/token_embedding.h"

namespace autoglm::core::model {

size_t GraphClassifierImpl::partCount(const ModelConfig& cfg) {
  const auto layers = static_cast<size_t>(cfg.layers);
  return layers + 3 + (cfg.early_exit && layers > 0 ? layers - 1 : 0);
}

GraphClassifierImpl::GraphClassifierImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes)
    : cfg_(cfg) {
  // Parts are made in forward order: their initialisation draws from the
  // default generator in that order.
  auto add = [this](std::string name, std::shared_ptr<ModelPart> p, PartOutput out) {
    names_.push_back(name);
    outputs_.push_back(out);
    parts_.push_back(register_module(std::move(name), std::move(p)));
  };
  EmbeddingShape shape;
  shape.table_dim = cfg.vectors_dim;
  shape.scaled_rows = cfg.vectors_lr != 1.0;
  add("embed", std::make_shared<TokenEmbedding>(vocab_size, cfg.embed_dim, cfg.dropout, shape), {false, cfg.embed_dim});
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
    o.gated = cfg.update == BlockUpdate::kGated;
    o.impl = cfg.attention;
    o.edge_types = cfg.relation_aware ? graph::kNumEdgeTypes : 0;
    dim = cfg.heads * cfg.head_dim;
    add("block" + std::to_string(l), std::make_shared<GATLayer>(o), {false, dim});
    if (cfg.early_exit && l + 1 < cfg.layers) {
      add("exit" + std::to_string(l),
          std::make_shared<ExitHead>(cfg.readout, dim, cfg.head_hidden, num_classes, cfg.dropout), {false, dim});
    }
  }
  auto readout = std::make_shared<Readout>(cfg.readout, dim);
  const int64_t pooled = readout->outDim();
  add("readout", readout, {true, pooled});
  add("head", std::make_shared<ClassifierHead>(pooled, cfg.head_hidden, num_classes, cfg.dropout), {true, num_classes});
  AUTOGLM_CHECK(names_.size() == partCount(cfg), "partCount() disagrees with the parts built");
  if (cfg.learned_edges > 0) {
    if (cfg.learned_edges_after >= cfg.layers) {
      throw ConfigError(detail::concat("model.learned_edges_after=", cfg.learned_edges_after,
                                       " must be below model.layers=", cfg.layers,
                                       ": the learned edges serve the blocks after that one"));
    }
    learned_after_ = indexOf("block" + std::to_string(cfg.learned_edges_after - 1));
    // Made last, drawing nothing: every part is the plain model's at the same seed.
    learned_edge_scale_ = register_parameter("learned_edge_scale", at::ones({1}));
  }
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

std::vector<std::string> GraphClassifierImpl::useRowSparseGradients() {
  std::vector<std::string> names;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (parts_[i] == nullptr) continue;
    for (const std::string& p : parts_[i]->useRowSparseGradients()) names.push_back(names_[i] + "." + p);
  }
  return names;
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

void GraphClassifierImpl::learnedBias(Flow& f, const at::Tensor& ids) const {
  const at::Tensor src = f.g.src.index_select(0, ids), dst = f.g.dst.index_select(0, ids);
  const at::Tensor cos =
      at::cosine_similarity(f.anchor.index_select(0, src), f.anchor.index_select(0, dst), 1, 1e-8);
  const at::Tensor scale = learned_edge_scale_.to(f.anchor.scalar_type());
  const at::Tensor b = at::zeros({f.g.num_edges}, f.anchor.options()).index_copy(0, ids, scale * cos);
  f.bias = b.unsqueeze(1).expand({f.g.num_edges, cfg_.heads}).contiguous();
}

at::Tensor GraphClassifierImpl::step(size_t i, const at::Tensor& h, Flow& f) {
  const auto& p = parts_[i];
  std::shared_ptr<GATLayer> gat;
  if (f.bias.defined() && names_[i].rfind("block", 0) == 0) {
    gat = std::dynamic_pointer_cast<GATLayer>(p);
    AUTOGLM_CHECK(gat != nullptr, "learned edges need plain GAT blocks, and part '", names_[i], "' is another kind");
  }
  // The bias is set for this call only, also when it throws.
  struct Scope {
    GATLayer* layer;
    ~Scope() {
      if (layer) layer->setExtraEdgeBias(at::Tensor());
    }
  } scope{gat.get()};
  if (gat) gat->setExtraEdgeBias(f.bias);
  at::Tensor out = p->forward(h, f.g);
  if (i == learned_after_) {
    at::Tensor ids;
    const at::Tensor pairs = graph::topKNeighbours(out, f.g, cfg_.learned_edges);
    f.g = graph::withLearnedEdges(f.g, pairs, &ids);
    f.anchor = out;
    learnedBias(f, ids);
  }
  return out;
}

at::Tensor GraphClassifierImpl::forward(const at::Tensor& x, const graph::GraphBatch& g) {
  if (learned_after_ < parts_.size()) {
    for (size_t i = 0; i < parts_.size(); ++i) {
      AUTOGLM_CHECK(parts_[i] != nullptr, "model.learned_edges needs every part, and '", names_[i],
                    "' was removed (pipeline stages are not supported)");
    }
  }
  Flow f{g, {}, {}};
  at::Tensor h = x;
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (parts_[i]) h = step(i, h, f);
  }
  return h;
}

std::vector<at::Tensor> GraphClassifierImpl::forwardExits(const graph::GraphBatch& g) {
  AUTOGLM_CHECK(parts_.front() != nullptr && parts_.back() != nullptr, "forwardExits needs every part");
  std::vector<at::Tensor> logits;
  Flow f{g, {}, {}};
  at::Tensor h;
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (auto e = std::dynamic_pointer_cast<ExitHead>(parts_[i])) {
      logits.push_back(e->classify(cfg_.exit_training == ExitTraining::kJoint ? h : h.detach(), f.g));
    }
    h = step(i, h, f);
  }
  logits.push_back(h);
  return logits;
}

GraphClassifierImpl::EarlyExit GraphClassifierImpl::forwardEarlyExit(const graph::GraphBatch& g, double threshold) {
  AUTOGLM_CHECK(parts_.front() != nullptr && parts_.back() != nullptr, "forwardEarlyExit needs every part");
  EarlyExit out;
  out.exit_block = at::full({g.num_graphs}, cfg_.layers, at::TensorOptions().dtype(at::kLong));
  const bool exits = cfg_.early_exit && threshold < 1.0;
  Flow f{g, {}, {}};
  at::Tensor alive = at::arange(g.num_graphs, at::TensorOptions().dtype(at::kLong));  // rows of g still in f.g
  at::Tensor h;
  int64_t blocks = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    auto e = std::dynamic_pointer_cast<ExitHead>(parts_[i]);
    if (e == nullptr) {
      if (std::dynamic_pointer_cast<GATLayer>(parts_[i])) ++blocks;
      h = step(i, h, f);
      continue;
    }
    if (!exits) continue;
    const at::Tensor logits = e->classify(h, f.g);
    const at::Tensor leave = std::get<0>(at::softmax(logits, 1).max(1)).ge(threshold);
    if (!leave.any().item<bool>()) continue;
    const at::Tensor left = alive.masked_select(leave);
    if (!out.logits.defined()) out.logits = at::zeros({g.num_graphs, logits.size(1)}, logits.options());
    out.logits.index_copy_(0, left, logits.index_select(0, leave.nonzero().squeeze(1)));
    out.exit_block.index_fill_(0, left, blocks);
    if (left.numel() == alive.numel()) return out;
    at::Tensor nodes;
    f.g = graph::subBatch(f.g, leave.logical_not(), &nodes);
    h = h.index_select(0, nodes);
    if (f.anchor.defined()) {  // the learned edges of the graphs kept, and their bias
      f.anchor = f.anchor.index_select(0, nodes);
      learnedBias(f, f.g.edge_type.eq(graph::kLearnedEdge).nonzero().squeeze(1));
    }
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
