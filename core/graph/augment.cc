#include "core/graph/augment.h"

#include <algorithm>
#include <vector>

#include "core/graph/graph_types.h"
#include "core/splitmix.h"

namespace autoglm::core::graph {
namespace {


// Uniform in [0, 1) for the unordered pair {a, b} of edges of one type.
double pairUniform(uint64_t seed, int32_t a, int32_t b, uint8_t type) {
  const auto lo = static_cast<uint32_t>(std::min(a, b)), hi = static_cast<uint32_t>(std::max(a, b));
  const uint64_t h = splitmix64(splitmix64(seed ^ (static_cast<uint64_t>(lo) << 32 | hi)) ^ type);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

bool isContextNode(const GraphView& g, int64_t v) {
  if (g.node_type != nullptr) return g.node_type[v] == kContextNode;
  return g.tokens[v] == text::Vocab::kDoc;
}

bool isWordNode(const GraphView& g, int64_t v) {
  if (isContextNode(g, v)) return false;
  return g.node_type == nullptr || g.node_type[v] == kWordNode;
}

// Copies the nodes of `g` and the edges whose entry of `keep` is true.
Graph withEdges(const GraphView& g, const std::vector<char>& keep) {
  Graph out;
  out.tokens.assign(g.tokens, g.tokens + g.num_nodes);
  if (g.node_type != nullptr) out.node_type.assign(g.node_type, g.node_type + g.num_nodes);
  out.label = g.label;
  for (int64_t e = 0; e < g.num_edges; ++e) {
    if (!keep[static_cast<size_t>(e)]) continue;
    out.src.push_back(g.src[e]);
    out.dst.push_back(g.dst[e]);
    out.weight.push_back(g.weight[e]);
    if (g.edge_type != nullptr) out.edge_type.push_back(g.edge_type[e]);
  }
  return out;
}

}  // namespace

Graph copyGraph(const GraphView& g) { return withEdges(g, std::vector<char>(static_cast<size_t>(g.num_edges), 1)); }

Graph dropEdges(const GraphView& g, double p, std::mt19937_64& gen) {
  // One draw per graph; each pair's fate is a hash of it and the pair, the
  // same for both directions in whatever order they come.
  const uint64_t seed = gen();
  std::vector<char> keep(static_cast<size_t>(g.num_edges), 1);
  if (p <= 0.0) return withEdges(g, keep);
  for (int64_t e = 0; e < g.num_edges; ++e) {
    if (g.src[e] == g.dst[e]) continue;  // self loops stay
    const uint8_t type = g.edge_type != nullptr ? g.edge_type[e] : 0;
    keep[static_cast<size_t>(e)] = pairUniform(seed, g.src[e], g.dst[e], type) >= p ? 1 : 0;
  }
  return withEdges(g, keep);
}

Graph maskNodes(const GraphView& g, double p, int64_t mask_token, std::mt19937_64& gen) {
  Graph out = copyGraph(g);
  std::bernoulli_distribution mask(p);
  for (int64_t v = 0; v < g.num_nodes; ++v) {
    if (isWordNode(g, v) && mask(gen)) out.tokens[static_cast<size_t>(v)] = mask_token;
  }
  return out;
}

Graph augment(const GraphView& g, const AugmentOptions& o, std::mt19937_64& gen) {
  const Graph dropped = dropEdges(g, o.edge_drop, gen);
  return maskNodes(dropped.view(), o.node_mask, o.mask_token, gen);
}

}  // namespace autoglm::core::graph
