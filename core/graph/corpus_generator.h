#pragma once
// A configurable generator of graph corpora (YAML `data.synthetic`, used with
// `data.format: synthetic`): documents as graphs written straight into the
// graph cache, for scaling benchmarks and cost-of-growth curves with models and
// inputs of any size. Reproducible: the same settings and seed give the same
// bytes; each document is drawn from its own stream (seed, document index), so
// documents are generated in parallel.
//
//   nodes per document  log-normal around `nodes_mean` (sigma `nodes_sigma`),
//                       clamped to [2, nodes_max]
//   words               `vocab` word ids, Zipf-distributed with exponent `zipf`;
//                       a fraction `signal` of a document's words come from its
//                       class's `topic_words` (the planted signal that makes
//                       accuracy meaningful); a document's nodes are distinct words
//   edges               each node links to `edges_per_node` others on average
//                       (both directions stored, as co-occurrence edges are),
//                       preferring nodes within `window` positions; no node gets
//                       more than `max_degree` incoming edges (self loops aside)
//   types               with `context_node` a <doc> node joined to every word
//                       (context edges); self loops when `self_loops`
//   classes             uniform over `classes`; `test_fraction` of the documents
//                       form the test split

#include <cstdint>
#include <vector>

#include "core/graph/graph_store.h"
#include "core/yaml_config.h"

namespace autoglm::core::graph {

struct CorpusGeneratorConfig {
  int64_t documents = 10000;
  int64_t nodes_mean = 40;
  double nodes_sigma = 0.5;
  int64_t nodes_max = 200;
  double edges_per_node = 4.0;
  int64_t max_degree = 16;
  int64_t window = 4;
  int64_t vocab = 20000;
  double zipf = 1.0;
  int64_t classes = 8;
  int64_t topic_words = 100;
  double signal = 0.05;
  bool context_node = false;
  bool self_loops = true;
  double test_fraction = 0.3;
  uint64_t seed = 1;

  template <class V>
  void visit(V& v) {
    v.field("documents", documents, check::between<int64_t>(1, int64_t{1} << 31));
    v.field("nodes_mean", nodes_mean, check::atLeast<int64_t>(2));
    v.field("nodes_sigma", nodes_sigma, check::between(0.0, 3.0));
    v.field("nodes_max", nodes_max, check::between<int64_t>(2, int64_t{1} << 20));
    v.field("edges_per_node", edges_per_node, check::atLeast(0.0));
    v.field("max_degree", max_degree, check::atLeast<int64_t>(1));
    v.field("window", window, check::atLeast<int64_t>(1));
    v.field("vocab", vocab, check::between<int64_t>(2, int64_t{1} << 31));
    v.field("zipf", zipf, check::between(0.0, 4.0));
    v.field("classes", classes, check::between<int64_t>(2, 65536));
    v.field("topic_words", topic_words, check::atLeast<int64_t>(1));
    v.field("signal", signal, check::fraction());
    v.field("context_node", context_node);
    v.field("self_loops", self_loops);
    v.field("test_fraction", test_fraction, check::between(0.0, 0.9));
    v.field("seed", seed);
  }
  // Cross-field rules: ConfigError naming the keys under `path` (data.synthetic).
  void validate(const std::string& path) const;
};

// The corpus: graphs (edges sorted by (dst, src), no duplicates), splits,
// vocabulary tokens (<pad>, <unk>, <doc>, then w0 .. w{vocab-1}) and label
// names (c0 ..). Throws ConfigError for settings validate() refuses.
GraphStore::Contents generateCorpus(const CorpusGeneratorConfig& cfg);

}  // namespace autoglm::core::graph
