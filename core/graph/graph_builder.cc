#include "core/graph/graph_builder.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {

CooccurrenceGraphBuilder::CooccurrenceGraphBuilder(GraphConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.window < 1) throw ConfigError("graph.window must be >= 1");
  if (cfg_.max_doc_len < 1) throw ConfigError("graph.max_doc_len must be >= 1");
}

Graph CooccurrenceGraphBuilder::build(const std::vector<int64_t>& token_ids) const {
  const size_t len = std::min(token_ids.size(), static_cast<size_t>(cfg_.max_doc_len));
  Graph g;
  std::unordered_map<int64_t, int32_t> local;
  std::vector<int32_t> pos_node(len);
  for (size_t i = 0; i < len; ++i) {
    auto [it, inserted] = local.emplace(token_ids[i], static_cast<int32_t>(g.tokens.size()));
    if (inserted) g.tokens.push_back(token_ids[i]);
    pos_node[i] = it->second;
  }
  const auto num_words = static_cast<int32_t>(g.tokens.size());
  int32_t doc = -1;
  if (cfg_.context_node) {
    doc = num_words;
    g.tokens.push_back(text::Vocab::kDoc);
  }
  // (dst, src) -> weight; an ordered map gives the (dst, src) edge order directly.
  std::map<std::pair<int32_t, int32_t>, float> w;
  for (size_t i = 0; i < len; ++i) {
    const size_t end = std::min(len, i + static_cast<size_t>(cfg_.window));
    for (size_t j = i + 1; j < end; ++j) {
      int32_t a = pos_node[i], b = pos_node[j];
      if (a == b) continue;
      w[{a, b}] += 1.0f;
      w[{b, a}] += 1.0f;
    }
  }
  if (doc >= 0) {
    for (int32_t v = 0; v < num_words; ++v) {
      w[{v, doc}] = 1.0f;
      w[{doc, v}] = 1.0f;
    }
  }
  if (cfg_.self_loops) {
    for (int32_t v = 0; v < static_cast<int32_t>(g.tokens.size()); ++v) w[{v, v}] = 1.0f;
  }
  g.src.reserve(w.size());
  g.dst.reserve(w.size());
  g.weight.reserve(w.size());
  for (const auto& [key, weight] : w) {
    g.dst.push_back(key.first);
    g.src.push_back(key.second);
    g.weight.push_back(weight);
  }
  return g;
}

uint64_t CooccurrenceGraphBuilder::fingerprint() const {
  Fnv1a h;
  h.add(name());
  h.addValue(cfg_.window);
  h.addValue(cfg_.max_doc_len);
  h.addValue(cfg_.context_node);
  h.addValue(cfg_.self_loops);
  return h.value();
}

std::unique_ptr<GraphBuilder> makeGraphBuilder(const GraphConfig& cfg) {
  switch (cfg.builder) {
    case BuilderKind::kCooccurrence: return std::make_unique<CooccurrenceGraphBuilder>(cfg);
  }
  throw ConfigError(detail::concat("graph.builder: unknown builder ", static_cast<int>(cfg.builder)));
}

}  // namespace autoglm::core::graph
