#pragma once
// `autoglm vectors import|info`: pretrained word vectors converted to the
// project's binary format (core/text/word_vectors.h) and described, with the
// coverage of an experiment's dataset by them.

#include <iosfwd>
#include <string>
#include <vector>

#include "core/text/word_vectors.h"

namespace autoglm::launch {

enum class VectorsFormat { kAuto, kText, kJson, kBinary };

struct VectorsImportOptions {
  std::string input;   // GloVe/word2vec text, wink-embeddings JSON or .agvec (to subset it)
  std::string output;  // .agvec written (atomically); empty: only the coverage (needs config)
  // auto: .agvec by its magic, JSON when it starts with '{', else text.
  VectorsFormat format = VectorsFormat::kAuto;
  core::text::VectorDtype dtype = core::text::VectorDtype::kFloat32;
  // An experiment whose dataset (data.*, tokenizer.*, vocab.*) the coverage is
  // reported for; empty for none. The graph cache is not built.
  std::string config;
  std::vector<std::string> overrides;
  // Keep only the words that occur in the dataset (all splits); needs config.
  bool only_dataset_words = false;
};

// Reads, reports the coverage (with a config), writes; progress lines go to
// `err` for inputs over 32 MiB, the rest to `out`. Returns 0 or throws
// autoglm::Error (ConfigError for the config, DataError for the files).
int runVectorsImport(const VectorsImportOptions& opts, std::ostream& out, std::ostream& err);

// Prints format, dtype, dim, count, size and (binary) the verified checksum.
int runVectorsInfo(const std::string& path, std::ostream& out);

}  // namespace autoglm::launch
