#include "core/graph/corpus_generator.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <unordered_set>

#include "core/error.h"
#include "core/graph/graph_types.h"
#include "core/splitmix.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {

void CorpusGeneratorConfig::validate(const std::string& path) const {
  checkConfig(*this, path);
  auto fail = [&](const std::string& msg) { throw ConfigError(path + "." + msg); };
  if (nodes_mean > nodes_max) {
    fail("nodes_mean=" + std::to_string(nodes_mean) + ": exceeds nodes_max=" + std::to_string(nodes_max));
  }
  if (nodes_max > vocab) {
    fail("nodes_max=" + std::to_string(nodes_max) + ": a document's nodes are distinct words, and vocab=" +
         std::to_string(vocab));
  }
  if (topic_words > vocab) {
    fail("topic_words=" + std::to_string(topic_words) + ": exceeds vocab=" + std::to_string(vocab));
  }
}

namespace {

// A word id in [0, vocab) from a power law with exponent s over ranks 1..vocab
// (the continuous bounded Pareto, floored): P(rank r) ~ r^-s.
int64_t powerLawWord(double u, int64_t vocab, double s) {
  const double top = static_cast<double>(vocab) + 1.0;
  double x;
  if (s == 0.0) {
    x = 1.0 + u * (top - 1.0);
  } else if (std::abs(s - 1.0) < 1e-12) {
    x = std::pow(top, u);
  } else {
    const double a = 1.0 - s;
    x = std::pow(1.0 + u * (std::pow(top, a) - 1.0), 1.0 / a);
  }
  return std::clamp<int64_t>(static_cast<int64_t>(x) - 1, 0, vocab - 1);
}

// Topic word j of class c: fixed by the seed.
int64_t topicWord(const CorpusGeneratorConfig& cfg, int64_t c, int64_t j) {
  const uint64_t h = splitmix64(cfg.seed ^ splitmix64(0x70bc0000ull + static_cast<uint64_t>(c) * 1000003ull +
                                                      static_cast<uint64_t>(j)));
  return static_cast<int64_t>(h % static_cast<uint64_t>(cfg.vocab));
}

// Undirected links (a < b) within the window, no node above max_degree.
std::vector<std::pair<int32_t, int32_t>> drawLinks(const CorpusGeneratorConfig& cfg, int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::vector<int64_t> degree(static_cast<size_t>(n), 0);
  std::vector<std::pair<int32_t, int32_t>> links;
  std::unordered_set<int64_t> linked;
  const double per_node = cfg.edges_per_node / 2.0;
  const int64_t whole = static_cast<int64_t>(per_node);
  const double frac = per_node - static_cast<double>(whole);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t tries = whole + (uni(rng) < frac ? 1 : 0);
    for (int64_t t = 0; t < tries; ++t) {
      const int64_t d = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(cfg.window));
      int64_t j = (rng() & 1) ? i + d : i - d;
      if (j < 0 || j >= n) j = (j < 0) ? i + d : i - d;  // reflect at the ends
      if (j < 0 || j >= n || j == i) continue;
      const int64_t a = std::min(i, j), b = std::max(i, j);
      if (degree[static_cast<size_t>(a)] >= cfg.max_degree || degree[static_cast<size_t>(b)] >= cfg.max_degree) continue;
      if (!linked.insert(a * n + b).second) continue;
      ++degree[static_cast<size_t>(a)];
      ++degree[static_cast<size_t>(b)];
      links.emplace_back(static_cast<int32_t>(a), static_cast<int32_t>(b));
    }
  }
  return links;
}

Graph generateDocument(const CorpusGeneratorConfig& cfg, int64_t doc, text::Split* split) {
  std::mt19937_64 rng(splitmix64(cfg.seed ^ splitmix64(static_cast<uint64_t>(doc) + 0x9e3779b97f4a7c15ull)));
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  Graph g;
  g.label = static_cast<int64_t>(rng() % static_cast<uint64_t>(cfg.classes));
  *split = uni(rng) < cfg.test_fraction ? text::Split::kTest : text::Split::kTrain;

  // Node count: log-normal with the requested mean.
  const double sigma = cfg.nodes_sigma;
  std::normal_distribution<double> normal(std::log(static_cast<double>(cfg.nodes_mean)) - 0.5 * sigma * sigma, sigma);
  const int64_t n = std::clamp<int64_t>(std::llround(std::exp(normal(rng))), 2, cfg.nodes_max);

  // Distinct words: topic words with probability `signal`, else the power law.
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> words;
  words.reserve(static_cast<size_t>(n));
  for (int64_t attempt = 0; static_cast<int64_t>(words.size()) < n && attempt < 64 * n; ++attempt) {
    const int64_t w = uni(rng) < cfg.signal
                          ? topicWord(cfg, g.label, static_cast<int64_t>(rng() % static_cast<uint64_t>(cfg.topic_words)))
                          : powerLawWord(uni(rng), cfg.vocab, cfg.zipf);
    if (seen.insert(w).second) words.push_back(w);
  }
  for (int64_t w = 0; static_cast<int64_t>(words.size()) < n; ++w) {  // a tiny vocabulary: fill in order
    if (seen.insert(w).second) words.push_back(w);
  }
  for (int64_t w : words) {
    g.tokens.push_back(w + text::Vocab::kNumReserved);
    g.node_type.push_back(kWordNode);
  }

  const std::vector<std::pair<int32_t, int32_t>> links = drawLinks(cfg, n, rng);
  struct Edge {
    int32_t src, dst;
    uint8_t type;
  };
  std::vector<Edge> edges;
  for (const auto& [a, b] : links) {
    edges.push_back({a, b, kCooccurrenceEdge});
    edges.push_back({b, a, kCooccurrenceEdge});
  }
  const int64_t nodes = n + (cfg.context_node ? 1 : 0);
  if (cfg.context_node) {
    const auto ctx = static_cast<int32_t>(n);
    g.tokens.push_back(text::Vocab::kDoc);
    g.node_type.push_back(kContextNode);
    for (int32_t i = 0; i < ctx; ++i) {
      edges.push_back({i, ctx, kContextEdge});
      edges.push_back({ctx, i, kContextEdge});
    }
  }
  if (cfg.self_loops) {
    for (int64_t i = 0; i < nodes; ++i) edges.push_back({static_cast<int32_t>(i), static_cast<int32_t>(i), kSelfLoopEdge});
  }
  std::sort(edges.begin(), edges.end(),
            [](const Edge& x, const Edge& y) { return x.dst != y.dst ? x.dst < y.dst : x.src < y.src; });
  for (const Edge& e : edges) {
    g.src.push_back(e.src);
    g.dst.push_back(e.dst);
    g.weight.push_back(1.0f);
    g.edge_type.push_back(e.type);
  }
  return g;
}

}  // namespace

GraphStore::Contents generateCorpus(const CorpusGeneratorConfig& cfg) {
  cfg.validate("data.synthetic");
  GraphStore::Contents out;
  out.graphs.resize(static_cast<size_t>(cfg.documents));
  out.splits.resize(static_cast<size_t>(cfg.documents));
  at::parallel_for(0, cfg.documents, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      out.graphs[static_cast<size_t>(i)] = generateDocument(cfg, i, &out.splits[static_cast<size_t>(i)]);
    }
  });
  out.vocab_tokens = {"<pad>", "<unk>", "<doc>"};
  out.vocab_tokens.reserve(static_cast<size_t>(cfg.vocab + text::Vocab::kNumReserved));
  for (int64_t w = 0; w < cfg.vocab; ++w) out.vocab_tokens.push_back("w" + std::to_string(w));
  for (int64_t c = 0; c < cfg.classes; ++c) out.label_names.push_back("c" + std::to_string(c));
  return out;
}

}  // namespace autoglm::core::graph
