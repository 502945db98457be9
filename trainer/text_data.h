#pragma once
// From a text-classification config to memory-mapped graphs: the preprocessing
// cache. prepare() tokenises the corpus, builds the vocabulary on the training
// split, builds one graph per document and writes the graph file; open()
// memory-maps an existing one. The file name carries a fingerprint of the
// corpus bytes and of every setting that changes the graphs, so a stale cache
// is never picked up.

#include <memory>
#include <string>
#include <vector>

#include "core/graph_builder.h"
#include "core/graph_store.h"
#include "core/tokenizer.h"
#include "core/vocab.h"
#include "trainer/experiment_config.h"

namespace autoglm::trainer {

struct PreparedData {
  core::GraphStore store;
  core::Vocab vocab;
  std::vector<std::string> label_names;
  std::string cache_path;
  bool built_now = false;  // false when an existing cache was used

  std::vector<int64_t> indicesOf(core::Split s) const;
};

// Opens the cache when it exists and is valid for the config, else builds it.
// force=true rebuilds even when a cache exists.
PreparedData loadOrPrepare(const ExperimentConfig& cfg, bool force = false);

// Splits the training indices into (train, validation) with a seeded shuffle.
void splitValidation(const std::vector<int64_t>& train, double fraction, uint64_t seed,
                     std::vector<int64_t>* train_out, std::vector<int64_t>* val_out);

}  // namespace autoglm::trainer
