#include "core/graph/graph_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/graph/graph_types.h"
#include "core/hash.h"

#include <cstring>

namespace autoglm::core::graph {
namespace {

using namespace core::text;
namespace fs = std::filesystem;

class GraphStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("autoglm_store_" + std::to_string(::getpid()) + ".graphs")).string();
    GraphConfig cfg;
    CooccurrenceGraphBuilder b(cfg);
    for (int i = 0; i < 5; ++i) {
      Graph g = b.build({3, 4, 5 + i, 3, 9});
      g.label = i % 2;
      contents_.graphs.push_back(g);
      contents_.splits.push_back(i < 3 ? Split::kTrain : Split::kTest);
    }
    contents_.vocab_tokens = {"<pad>", "<unk>", "<doc>", "a", "b"};
    contents_.label_names = {"neg", "pos"};
    contents_.fingerprint = 0xabcdef;
    GraphStore::write(path_, contents_);
  }
  void TearDown() override { fs::remove(path_); }

  void corruptByte(uint64_t offset) {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }
  std::string openError() {
    try {
      GraphStore::open(path_);
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }

  std::string path_;
  GraphStore::Contents contents_;
};

TEST_F(GraphStoreTest, RoundTripsGraphsAndMetadata) {
  GraphStore s = GraphStore::open(path_);
  ASSERT_EQ(s.size(), 5);
  EXPECT_EQ(s.fingerprint(), 0xabcdefu);
  EXPECT_EQ(s.vocabTokens(), contents_.vocab_tokens);
  EXPECT_EQ(s.labelNames(), contents_.label_names);
  for (int64_t i = 0; i < 5; ++i) {
    const Graph& g = contents_.graphs[static_cast<size_t>(i)];
    GraphView v = s.graph(i);
    ASSERT_EQ(v.num_nodes, g.numNodes());
    ASSERT_EQ(v.num_edges, g.numEdges());
    EXPECT_EQ(v.label, g.label);
    EXPECT_EQ(s.split(i), contents_.splits[static_cast<size_t>(i)]);
    for (int64_t e = 0; e < v.num_edges; ++e) {
      EXPECT_EQ(v.src[e], g.src[e]);
      EXPECT_EQ(v.dst[e], g.dst[e]);
      EXPECT_EQ(v.weight[e], g.weight[e]);
    }
    for (int64_t n = 0; n < v.num_nodes; ++n) EXPECT_EQ(v.tokens[n], g.tokens[n]);
  }
}

TEST_F(GraphStoreTest, DetectsPayloadCorruption) {
  corruptByte(fs::file_size(path_) - 20);
  EXPECT_NE(openError().find("payload checksum mismatch"), std::string::npos) << openError();
}

TEST_F(GraphStoreTest, DetectsHeaderCorruption) {
  corruptByte(20);
  EXPECT_NE(openError().find("header checksum mismatch"), std::string::npos) << openError();
}

TEST_F(GraphStoreTest, DetectsTruncationAndForeignFiles) {
  fs::resize_file(path_, fs::file_size(path_) - 8);
  EXPECT_NE(openError().find("truncated"), std::string::npos) << openError();
  {
    std::ofstream f(path_, std::ios::trunc);
    f << std::string(200, 'x');
  }
  EXPECT_NE(openError().find("bad magic"), std::string::npos) << openError();
  fs::resize_file(path_, 10);
  EXPECT_NE(openError().find("shorter than its header"), std::string::npos) << openError();
}

TEST_F(GraphStoreTest, RoundTripsNodeAndEdgeTypes) {
  Graph typed;
  typed.tokens = {3, 4, 9};
  typed.node_type = {kWordNode, kWordNode, kConceptNode};
  typed.src = {1, 2, 0, 2, 0, 1};
  typed.dst = {0, 0, 1, 1, 2, 2};
  typed.weight = {1, 1, 1, 1, 1, 1};
  typed.edge_type = {kSyntaxEdgeBase + 3, kSenseEdge, kCooccurrenceEdge, kHypernymEdge, kSenseEdge,
                     kNumEdgeTypes - 1};
  typed.label = 1;
  contents_.graphs.push_back(typed);
  contents_.splits.push_back(Split::kTrain);
  GraphStore::write(path_, contents_);
  GraphStore s = GraphStore::open(path_);
  const GraphView v = s.graph(5);
  ASSERT_EQ(v.num_edges, 6);
  for (int64_t n = 0; n < 3; ++n) EXPECT_EQ(v.node_type[n], typed.node_type[static_cast<size_t>(n)]);
  for (int64_t e = 0; e < 6; ++e) EXPECT_EQ(v.edge_type[e], typed.edge_type[static_cast<size_t>(e)]);
  // The co-occurrence builder's graphs carry its types: self loops and context edges.
  const GraphView c = s.graph(0);
  int self = 0, context = 0;
  for (int64_t e = 0; e < c.num_edges; ++e) {
    self += c.edge_type[e] == kSelfLoopEdge && c.src[e] == c.dst[e];
    context += c.edge_type[e] == kContextEdge;
  }
  EXPECT_EQ(self, c.num_nodes);
  EXPECT_EQ(c.node_type[c.num_nodes - 1], kContextNode);
  EXPECT_EQ(context, 2 * (c.num_nodes - 1));
}

TEST_F(GraphStoreTest, RejectsAnOlderFormatVersionWithARebuildHint) {
  // Rewrite the version field (after the 8-byte magic) as 1, with a valid header CRC.
  std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
  char header[128];
  f.read(header, 128);
  const uint32_t old_version = 1;
  std::memcpy(header + 8, &old_version, 4);
  std::memset(header + 76, 0, 4);  // header_crc: fields up to payload_crc take 76 bytes
  const uint32_t crc = crc32(header, 128);
  std::memcpy(header + 76, &crc, 4);
  f.seekp(0);
  f.write(header, 128);
  f.close();
  const std::string e = openError();
  EXPECT_NE(e.find("format version 1"), std::string::npos) << e;
  EXPECT_NE(e.find("reads version 2"), std::string::npos) << e;
  EXPECT_NE(e.find("rebuild it"), std::string::npos) << e;
}

}  // namespace
}  // namespace autoglm::core::graph
