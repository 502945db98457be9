#pragma once
// The whole corpus as one graph, for transductive classification (model.kind:
// corpus_gcn; the heterogeneous word-document graph of TextGCN, Yao et al.
// 2019). Nodes, in this order:
//   - one per document of every split, in corpus order;
//   - one per word of the vocabulary: every token seen at least min_count
//     times in the text of all splits (labels are never read here);
//   - (wordnet) one per WordNet concept reached by at least min_concept_words
//     of those words: a word's first sense per part of speech and its
//     hypernyms up to hypernym_depth levels.
// Edges, undirected:
//   - word-word: positive PMI over sliding windows of `window` tokens (a
//     document shorter than the window is one window); PMI(i,j) =
//     log(n_ij * W / (n_i * n_j)), W the number of windows, n_i the windows
//     holding word i, n_ij the ordered position pairs of a window holding i
//     and j (as TextGCN counts them);
//   - document-word: TF-IDF, the word's count in the document times
//     log(documents / documents holding the word);
//   - word-concept: weight concept_weight for each concept the word reaches;
//   - a self loop of weight 1 on every node.
// The adjacency is normalised symmetrically, D^-1/2 (A + I) D^-1/2, and kept
// as CSR (symmetric, so it is its own transpose).

#include <cstdint>
#include <string>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::core::graph {

// YAML section `corpus:` (read when model.kind is corpus_gcn).
struct CorpusGraphConfig {
  int64_t window = 20;
  int64_t min_count = 1;
  bool wordnet = false;
  int64_t hypernym_depth = 1;
  int64_t min_concept_words = 2;
  double concept_weight = 1.0;
  int64_t hidden = 200;  // the GCN's hidden width (core/model/corpus_gcn.h)
  // refit: after the validation documents have chosen the epoch, a second
  // GCN (same initialisation) trains on the training and validation documents
  // for that many epochs and makes the predictions. The test documents'
  // labels are never read either way.
  bool refit = false;
  // A trained graph-classifier run (model.kind gat) whose class probabilities
  // are mixed in: p = ensemble_weight * p_gcn + (1 - ensemble_weight) * p_run
  // (trainer/tasks/corpus_gcn/corpus_gcn_task.h). Empty = the GCN alone.
  // ensemble_select: the weight is instead the one of 0, 0.1, ..., 1 whose
  // mixture has the lowest loss on the validation documents.
  std::string ensemble_checkpoint;
  double ensemble_weight = 0.7;
  bool ensemble_select = true;

  template <class V>
  void visit(V& v) {
    v.field("window", window, check::atLeast<int64_t>(2));
    v.field("min_count", min_count, check::atLeast<int64_t>(1));
    v.field("wordnet", wordnet);
    v.field("hypernym_depth", hypernym_depth, check::atLeast<int64_t>(0));
    v.field("min_concept_words", min_concept_words, check::atLeast<int64_t>(1));
    v.field("concept_weight", concept_weight, check::greaterThan(0.0));
    v.field("hidden", hidden, check::atLeast<int64_t>(1));
    v.field("refit", refit);
    v.field("ensemble_checkpoint", ensemble_checkpoint);
    v.field("ensemble_weight", ensemble_weight, check::fraction());
    v.field("ensemble_select", ensemble_select);
  }
};

struct CorpusGraph {
  int64_t num_docs = 0;
  std::vector<std::string> words;     // node num_docs + i
  std::vector<std::string> concepts;  // node num_docs + words.size() + i ("wn:<pos>:<offset>")
  // The normalised adjacency, CSR, columns ascending within a row.
  std::vector<int64_t> row_ptr;
  std::vector<int64_t> col;
  std::vector<float> val;
  // Undirected edges by kind (self loops not counted).
  int64_t word_word_edges = 0;
  int64_t doc_word_edges = 0;
  int64_t word_concept_edges = 0;

  int64_t numNodes() const { return static_cast<int64_t>(row_ptr.size()) - 1; }
  int64_t nnz() const { return static_cast<int64_t>(col.size()); }
  // The weight of (r, c) in the normalised adjacency, 0 when absent.
  float at(int64_t r, int64_t c) const;
};

// docs[i] holds the tokens of document i. A document without a vocabulary
// word keeps only its self loop (logged, not fatal).
CorpusGraph buildCorpusGraph(const std::vector<std::vector<std::string>>& docs, const CorpusGraphConfig& cfg);

}  // namespace autoglm::core::graph
