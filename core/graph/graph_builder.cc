#include "core/graph/graph_builder.h"

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "core/graph/graph_assembly.h"
#include "core/graph/semantic_builder.h"

namespace autoglm::core::graph {

GraphAssembly::GraphAssembly(const std::vector<int64_t>& ids, int64_t max_len) {
  const size_t len = std::min(ids.size(), static_cast<size_t>(max_len));
  std::unordered_map<int64_t, int32_t> local;
  pos_node_.resize(len);
  for (size_t i = 0; i < len; ++i) {
    auto [it, inserted] = local.emplace(ids[i], static_cast<int32_t>(g_.tokens.size()));
    if (inserted) g_.tokens.push_back(ids[i]);
    pos_node_[i] = it->second;
  }
  num_words_ = static_cast<int32_t>(g_.tokens.size());
  g_.node_type.assign(g_.tokens.size(), kWordNode);
}

int32_t GraphAssembly::addNode(int64_t token, NodeType type) {
  g_.tokens.push_back(token);
  g_.node_type.push_back(type);
  return static_cast<int32_t>(g_.tokens.size()) - 1;
}

void GraphAssembly::addEdge(int32_t dst, int32_t src, EdgeType type, float weight) {
  edges_[{dst, src, static_cast<uint8_t>(type)}] += weight;
}

void GraphAssembly::addCooccurrence(int64_t window) {
  const size_t len = length();
  for (size_t i = 0; i < len; ++i) {
    const size_t end = std::min(len, i + static_cast<size_t>(window));
    for (size_t j = i + 1; j < end; ++j) {
      if (pos_node_[i] != pos_node_[j]) addBothWays(pos_node_[i], pos_node_[j], kCooccurrenceEdge, 1.0f);
    }
  }
}

int32_t GraphAssembly::addContextNode() {
  const int32_t doc = addNode(text::Vocab::kDoc, kContextNode);
  for (int32_t v = 0; v < num_words_; ++v) addBothWays(v, doc, kContextEdge, 1.0f);
  return doc;
}

void GraphAssembly::addSelfLoops() {
  for (int32_t v = 0; v < numNodes(); ++v) addEdge(v, v, kSelfLoopEdge, 1.0f);
}

Graph GraphAssembly::finish() {
  g_.src.reserve(edges_.size());
  g_.dst.reserve(edges_.size());
  g_.weight.reserve(edges_.size());
  g_.edge_type.reserve(edges_.size());
  for (const auto& [key, weight] : edges_) {
    g_.dst.push_back(std::get<0>(key));
    g_.src.push_back(std::get<1>(key));
    g_.edge_type.push_back(std::get<2>(key));
    g_.weight.push_back(weight);
  }
  edges_.clear();
  return std::move(g_);
}

CooccurrenceGraphBuilder::CooccurrenceGraphBuilder(GraphConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.window < 1) throw ConfigError("graph.window must be >= 1");
  if (cfg_.max_doc_len < 1) throw ConfigError("graph.max_doc_len must be >= 1");
}

Graph CooccurrenceGraphBuilder::buildDocument(const Document& doc) const {
  GraphAssembly a(doc.ids, cfg_.max_doc_len);
  a.addCooccurrence(cfg_.window);
  if (cfg_.context_node) a.addContextNode();
  if (cfg_.self_loops) a.addSelfLoops();
  return a.finish();
}

uint64_t CooccurrenceGraphBuilder::fingerprint() const { return builderFingerprint(cfg_); }

std::unique_ptr<GraphBuilder> makeGraphBuilder(const GraphConfig& cfg, const text::Vocab* vocab) {
  switch (cfg.builder) {
    case BuilderKind::kCooccurrence: return std::make_unique<CooccurrenceGraphBuilder>(cfg);
    case BuilderKind::kSemantic:
      if (vocab == nullptr) throw ConfigError("graph.builder: semantic needs the vocabulary (its concept tokens)");
      return std::make_unique<SemanticGraphBuilder>(cfg, *vocab);
  }
  throw ConfigError(detail::concat("graph.builder: unknown builder ", static_cast<int>(cfg.builder)));
}

Document makeDocument(std::string_view text, const text::Tokenizer& tokenizer, const text::Vocab& vocab) {
  Document d;
  d.words = tokenizer.tokenize(text, &d.sentence_ends);
  d.ids = vocab.encode(d.words);
  return d;
}

}  // namespace autoglm::core::graph
