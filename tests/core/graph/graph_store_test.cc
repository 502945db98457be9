#include "core/graph/graph_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/graph/graph_builder.h"

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

}  // namespace
}  // namespace autoglm::core::graph
