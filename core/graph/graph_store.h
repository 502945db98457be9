#pragma once
// Binary graph file: the preprocessing cache that training memory-maps.
//
// Layout (little-endian, every section 8-byte aligned):
//   Header (128 bytes): magic "AGLMGRPH", format version, fingerprint of what
//   produced it (corpus, tokeniser, vocabulary and graph settings), counts,
//   payload size, CRC-32 of the payload and of the header itself.
//   Payload: node_offsets[G+1] i64, edge_offsets[G+1] i64, labels[G] i64,
//   splits[G] u8, tokens[N] i64, src[E] i32, dst[E] i32, weight[E] f32,
//   node_type[N] u8, edge_type[E] u8 (graph_types.h; version 2 added them),
//   strings (vocabulary tokens, then label names, '\n'-separated).
//
// open() verifies magic, version, sizes and both checksums, and throws
// DataError naming the file and what is wrong, so a corrupt or truncated cache
// never reaches training.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/graph.h"
#include "core/text/text_dataset.h"

namespace autoglm::core::graph {

class GraphStore {
 public:
  static constexpr uint32_t kVersion = 2;

  struct Contents {
    std::vector<Graph> graphs;
    std::vector<text::Split> splits;
    std::vector<std::string> vocab_tokens;
    std::vector<std::string> label_names;
    uint64_t fingerprint = 0;
  };

  // Writes atomically: a temporary file beside `path`, then rename.
  static void write(const std::string& path, const Contents& contents);
  static GraphStore open(const std::string& path);

  GraphStore(GraphStore&&) noexcept;
  GraphStore& operator=(GraphStore&&) noexcept;
  GraphStore(const GraphStore&) = delete;
  GraphStore& operator=(const GraphStore&) = delete;
  ~GraphStore();

  int64_t size() const { return num_graphs_; }
  GraphView graph(int64_t i) const;
  int64_t numNodes(int64_t i) const { return node_offsets_[i + 1] - node_offsets_[i]; }
  text::Split split(int64_t i) const { return static_cast<text::Split>(splits_[i]); }
  uint64_t fingerprint() const { return fingerprint_; }
  const std::vector<std::string>& vocabTokens() const { return vocab_tokens_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  const std::string& path() const { return path_; }

 private:
  GraphStore() = default;
  void release();

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  int64_t num_graphs_ = 0;
  uint64_t fingerprint_ = 0;
  const int64_t* node_offsets_ = nullptr;
  const int64_t* edge_offsets_ = nullptr;
  const int64_t* labels_ = nullptr;
  const uint8_t* splits_ = nullptr;
  const int64_t* tokens_ = nullptr;
  const int32_t* src_ = nullptr;
  const int32_t* dst_ = nullptr;
  const float* weight_ = nullptr;
  const uint8_t* node_type_ = nullptr;
  const uint8_t* edge_type_ = nullptr;
  std::vector<std::string> vocab_tokens_;
  std::vector<std::string> label_names_;
};

}  // namespace autoglm::core::graph
