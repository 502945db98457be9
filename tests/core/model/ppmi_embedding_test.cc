#include "core/model/ppmi_embedding.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/graph/graph_builder.h"
#include "core/text/vocab.h"

namespace autoglm::core::model {
namespace {

using namespace core::graph;
using namespace core::text;
namespace fs = std::filesystem;

class PpmiTest : public ::testing::Test {
 protected:
  void write(const std::vector<std::vector<int64_t>>& docs) {
    GraphConfig cfg;
    cfg.window = 2;  // adjacent tokens only
    CooccurrenceGraphBuilder b(cfg);
    GraphStore::Contents c;
    for (const auto& d : docs) {
      c.graphs.push_back(b.build(d));
      c.splits.push_back(Split::kTrain);
    }
    c.vocab_tokens = {"<pad>", "<unk>", "<doc>"};
    for (int i = 3; i < 12; ++i) c.vocab_tokens.push_back("t" + std::to_string(i));
    c.label_names = {"x"};
    GraphStore::write(path_, c);
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_ = (fs::temp_directory_path() / ("autoglm_ppmi_" + std::to_string(::getpid()))).string();
};

TEST_F(PpmiTest, MatrixMatchesHandComputedValues) {
  // Adjacent pairs: doc1 3-4, 4-5; doc2 3-4. Directed counts (both ways):
  // c(3,4)=c(4,3)=2, c(4,5)=c(5,4)=1; row sums r3=2, r4=3, r5=1; total C=6.
  write({{3, 4, 5}, {3, 4}});
  GraphStore store = GraphStore::open(path_);
  at::Tensor m = ppmiMatrix(store, {0, 1}, 12).to_dense();
  EXPECT_NEAR(m[3][4].item<double>(), std::log(2.0 * 6 / (2 * 3)), 1e-6);  // log 2
  EXPECT_NEAR(m[5][4].item<double>(), std::log(1.0 * 6 / (1 * 3)), 1e-6);  // log 2
  EXPECT_EQ(m[3][5].item<double>(), 0.0);  // never adjacent
  EXPECT_EQ(m[3][3].item<double>(), 0.0);  // self loops ignored
  EXPECT_EQ(m.slice(0, 0, 3).abs().sum().item<double>(), 0.0);  // reserved ids have no counts
  EXPECT_TRUE(at::allclose(m, m.t()));
}

TEST_F(PpmiTest, WordsOfTheSameTopicGetCloserVectors) {
  // Two topics that never share a document: {3,4,5,6} and {7,8,9,10}.
  std::vector<std::vector<int64_t>> docs;
  for (int r = 0; r < 20; ++r) {
    docs.push_back({3, 4, 5, 6, 4, 3, 6, 5});
    docs.push_back({7, 8, 9, 10, 8, 7, 10, 9});
  }
  write(docs);
  GraphStore store = GraphStore::open(path_);
  std::vector<int64_t> all(docs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  PpmiOptions o;
  o.dim = 4;
  o.oversample = 4;
  at::Tensor e = ppmiSvdEmbeddings(store, all, 12, o);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{12, 4}));
  auto cos = [&](int a, int b) {
    return (at::dot(e[a], e[b]) / (e[a].norm() * e[b].norm())).item<double>();
  };
  EXPECT_GT(cos(3, 5), cos(3, 7) + 0.5);
  EXPECT_GT(cos(8, 10), cos(8, 4) + 0.5);
  EXPECT_TRUE(at::isfinite(e).all().item<bool>());
  EXPECT_GT(e[11].norm().item<double>(), 0.0);  // unseen token: small random vector, not zero
}

}  // namespace
}  // namespace autoglm::core::model
