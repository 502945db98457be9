#pragma once
// From a dataset on disk to memory-mapped graphs: the preparation step and its
// cache. loadOrPrepare() tokenises the corpus, builds the vocabulary on the
// training split, builds one graph per document and writes the graph file
// (GraphStore), or memory-maps the one already there. The file name carries a
// fingerprint of the corpus bytes and of every setting that changes the graphs
// (the data, tokenizer, vocab and graph sections), so a stale cache is never
// picked up.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/graph/corpus_generator.h"
#include "core/graph/graph_builder.h"
#include "core/graph/graph_store.h"
#include "core/text/text_dataset.h"
#include "core/text/tokenizer.h"
#include "core/text/vocab.h"
#include "core/yaml_config.h"

namespace autoglm::core::graph {

// text_classification: a corpus and labels file (data.dir); synthetic: graphs
// drawn by the corpus generator (data.synthetic, corpus_generator.h) straight
// into the cache, no text involved.
enum class DataFormat { kTextClassification, kSynthetic };
constexpr std::array<EnumName<DataFormat>, 2> enumNames(DataFormat) {
  return {{{DataFormat::kTextClassification, "text_classification"}, {DataFormat::kSynthetic, "synthetic"}}};
}

// YAML section `data:`.
struct DataConfig {
  DataFormat format = DataFormat::kTextClassification;
  std::string dir = "data/r8";
  std::string corpus = "corpus.clean.txt";
  std::string labels = "labels.txt";
  std::string cache_dir = ".autoglm_cache";
  double val_fraction = 0.1;  // carved from train, seeded
  text::EmptyDocuments empty_documents = text::EmptyDocuments::kError;
  CorpusGeneratorConfig synthetic;  // format: synthetic

  template <class V>
  void visit(V& v) {
    v.field("format", format);
    v.field("dir", dir, check::nonEmpty());
    v.field("corpus", corpus, check::nonEmpty());
    v.field("labels", labels, check::nonEmpty());
    v.field("cache_dir", cache_dir, check::nonEmpty());
    v.field("val_fraction", val_fraction, check::openFraction());
    v.field("empty_documents", empty_documents);
    v.section("synthetic", synthetic);
  }
};

struct PreparedData {
  GraphStore store;
  text::Vocab vocab;
  std::vector<std::string> label_names;
  std::string cache_path;
  bool built_now = false;  // false when an existing cache was used

  std::vector<int64_t> indicesOf(text::Split s) const;
};

// Opens the cache when it exists and is valid for these settings, else builds
// it; force=true rebuilds even when a cache exists. Throws DataError naming the
// file (and line) of bad input.
PreparedData loadOrPrepare(const DataConfig& data, const text::TokenizerConfig& tokenizer,
                           const text::VocabConfig& vocab, const GraphConfig& graph, bool force = false);

// data.dir / name, checked to exist; key names the data.* setting in messages.
std::string dataFile(const DataConfig& data, const std::string& name, const char* key);

// Splits the training indices into (train, validation) with a seeded shuffle.
void splitValidation(const std::vector<int64_t>& train, double fraction, uint64_t seed,
                     std::vector<int64_t>* train_out, std::vector<int64_t>* val_out);

}  // namespace autoglm::core::graph
