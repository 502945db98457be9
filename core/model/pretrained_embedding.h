#pragma once
// The embedding table from pretrained word vectors (model.embed_init: pretrained).
//
// Each token of the vocabulary gets, in this order of preference:
//   1. its own vector from the file (exact match; "from_file");
//   2. for a WordNet concept node ("wn:n:02084071"), the mean of its lemmas'
//      vectors (a collocation "new_york" by its own vector, else the mean of
//      its parts');
//   3. with OovInit::kNeighbours, the mean of the vectors of up to 5 related
//      words, from WordNet (base forms, then synonyms: "companies" ->
//      "company"), else of the 3 vocabulary words with vectors that share the
//      most character trigrams with it (Jaccard >= 0.4);
//   4. a random normal row with the standard deviation of the file's rows.
// The reserved ids (<pad>, <unk>, <doc>) take step 4. Every value is then
// multiplied by `scale`. Deterministic for a seed.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model_config.h"
#include "core/text/word_vectors.h"

namespace autoglm::core::model {

struct PretrainedOptions {
  double scale = 1.0;
  OovInit oov = OovInit::kNeighbours;
  uint64_t seed = 0;
};

struct PretrainedTable {
  at::Tensor table;      // [vocab, vectors.dim()] float
  at::Tensor from_file;  // [vocab] bool: step 1
  int64_t found = 0;       // step 1
  int64_t concepts = 0;    // step 2
  int64_t wordnet = 0;     // step 3, WordNet
  int64_t subword = 0;     // step 3, trigrams
  int64_t random = 0;      // step 4, reserved ids included
  std::string describe() const;
};

PretrainedTable pretrainedTable(const std::vector<std::string>& vocab_tokens, const text::WordVectors& vectors,
                                const PretrainedOptions& opts);

}  // namespace autoglm::core::model
