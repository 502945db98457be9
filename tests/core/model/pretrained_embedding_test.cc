#include "core/model/pretrained_embedding.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include "core/graph/graph_batch.h"
#include "core/model/token_embedding.h"
#include "tests/temp_dir_test.h"

namespace autoglm::core::model {
namespace {

// A GloVe text file written by the test: a few words WordNet relates to
// others ("companies", "walked", the lemmas of dog's synset) and "elephant",
// whose trigrams "elephantx" shares.
class PretrainedTest : public autoglm::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    path_ = write("v.txt",
                  "dog 1 0 0 0\n"
                  "company 0 1 0 0\n"
                  "cat 0 0 1 0\n"
                  "walk 0 0 0 1\n"
                  "elephant 2 2 0 0\n"
                  "domestic 0 0 4 0\n");
  }
  std::vector<float> row(const PretrainedTable& t, int64_t i) {
    at::Tensor r = t.table[i].contiguous();
    return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  }
  std::string path_;
};

TEST_F(PretrainedTest, RowsEqualTheFilesVectors) {
  const auto vectors = text::openWordVectors(path_);
  const PretrainedTable t = pretrainedTable({"<pad>", "<unk>", "<doc>", "cat", "dog", "walk"}, *vectors, {});
  ASSERT_EQ(t.table.sizes(), (at::IntArrayRef{6, 4}));
  EXPECT_EQ(row(t, 3), (std::vector<float>{0, 0, 1, 0}));
  EXPECT_EQ(row(t, 4), (std::vector<float>{1, 0, 0, 0}));
  EXPECT_EQ(row(t, 5), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_EQ(t.found, 3);
  EXPECT_EQ(t.random, 3);  // the reserved ids
  EXPECT_TRUE(t.from_file[3].item<bool>());
  EXPECT_FALSE(t.from_file[0].item<bool>());
}

TEST_F(PretrainedTest, MissingWordsTakeTheirNeighboursVectors) {
  const auto vectors = text::openWordVectors(path_);
  // "companies" -> WordNet base form "company"; "walked" -> "walk";
  // "elephantx" shares most trigrams with "elephant" (a vocabulary word with a
  // vector: trigram neighbours are looked for there); "zzqq" has no neighbour.
  const PretrainedTable t =
      pretrainedTable({"<pad>", "<unk>", "<doc>", "companies", "walked", "elephantx", "zzqq", "elephant"}, *vectors, {});
  EXPECT_EQ(row(t, 3), (std::vector<float>{0, 1, 0, 0}));
  EXPECT_EQ(row(t, 4), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_EQ(row(t, 5), (std::vector<float>{2, 2, 0, 0}));
  EXPECT_EQ(t.found, 1);
  EXPECT_EQ(t.wordnet, 2);
  EXPECT_EQ(t.subword, 1);
  EXPECT_EQ(t.random, 4);
  EXPECT_EQ(t.from_file.sum().item<int64_t>(), 1);

  PretrainedOptions random_only;
  random_only.oov = OovInit::kRandom;
  const PretrainedTable r =
      pretrainedTable({"<pad>", "<unk>", "<doc>", "companies", "walked", "elephantx", "zzqq", "elephant"}, *vectors,
                      random_only);
  EXPECT_EQ(r.random, 7);
  EXPECT_NE(row(r, 3), (std::vector<float>{0, 1, 0, 0}));
}

TEST_F(PretrainedTest, ConceptNodesAreTheMeanOfTheirLemmas) {
  const auto vectors = text::openWordVectors(path_);
  // Synset dog.n.01 (02084071): dog, domestic_dog, Canis_familiaris; domestic_dog is
  // the mean of its parts' vectors (domestic and dog), Canis_familiaris has none.
  const PretrainedTable t = pretrainedTable({"<pad>", "<unk>", "<doc>", "wn:n:02084071"}, *vectors, {});
  EXPECT_EQ(t.concepts, 1);
  const std::vector<float> r = row(t, 3);
  // mean of dog (1,0,0,0) and domestic_dog ((1,0,4,0)/2) = (0.75, 0, 1, 0)
  EXPECT_FLOAT_EQ(r[0], 0.75f);
  EXPECT_FLOAT_EQ(r[2], 1.0f);
}

TEST_F(PretrainedTest, ScaleMultipliesEveryValue) {
  const auto vectors = text::openWordVectors(path_);
  PretrainedOptions o;
  o.scale = 0.5;
  const PretrainedTable t = pretrainedTable({"<pad>", "<unk>", "<doc>", "elephant"}, *vectors, o);
  EXPECT_EQ(row(t, 3), (std::vector<float>{1, 1, 0, 0}));
}

graph::GraphBatch batchOf(std::vector<int64_t> ids) {
  graph::GraphBatch g;
  g.tokens = at::tensor(ids, at::kLong);
  g.num_nodes = static_cast<int64_t>(ids.size());
  return g;
}

TEST(TokenEmbeddingPretrained, FrozenRowsStayWhileOthersTrain) {
  EmbeddingShape shape;
  shape.scaled_rows = true;
  TokenEmbedding e(4, 3, /*dropout=*/0.0, shape);
  const at::Tensor table = at::arange(12, at::kFloat).reshape({4, 3});
  const at::Tensor from_file = at::tensor({0, 1, 1, 0}, at::kLong).to(at::kBool);
  e.setPretrained(table, from_file, /*lr_scale=*/0.0);
  EXPECT_TRUE(at::equal(e.effectiveTable(), table));
  torch::optim::AdamW opt(e.parameters(), torch::optim::AdamWOptions(0.1).weight_decay(0.5));
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    e.forward({}, batchOf({0, 1, 2, 3})).pow(2).sum().backward();
    opt.step();
  }
  const at::Tensor now = e.effectiveTable();
  EXPECT_TRUE(at::equal(now[1], table[1]));
  EXPECT_TRUE(at::equal(now[2], table[2]));
  EXPECT_FALSE(at::equal(now[0], table[0]));
  EXPECT_FALSE(at::equal(now[3], table[3]));
}

TEST(TokenEmbeddingPretrained, ScaledRowsMoveByTheirScale) {
  EmbeddingShape shape;
  shape.scaled_rows = true;
  TokenEmbedding e(2, 2, 0.0, shape);
  const at::Tensor table = at::zeros({2, 2});
  e.setPretrained(table, at::tensor({1, 0}, at::kLong).to(at::kBool), /*lr_scale=*/0.1);
  torch::optim::Adam opt(e.parameters(), torch::optim::AdamOptions(0.01));
  opt.zero_grad();
  e.forward({}, batchOf({0, 1})).sum().backward();
  opt.step();
  // Adam's first step moves every coordinate by lr; the file's row by 0.1 x lr.
  const at::Tensor now = e.effectiveTable();
  EXPECT_NEAR(now[0][0].item<float>(), -0.001f, 1e-6);
  EXPECT_NEAR(now[1][0].item<float>(), -0.01f, 1e-6);
}

TEST(TokenEmbeddingPretrained, ANarrowerTableIsProjected) {
  EmbeddingShape shape;
  shape.table_dim = 3;
  TokenEmbedding e(5, 8, 0.0, shape);
  EXPECT_EQ(e.table().sizes(), (at::IntArrayRef{5, 3}));
  EXPECT_EQ(e.forward({}, batchOf({1, 2, 4})).sizes(), (at::IntArrayRef{3, 8}));
  EXPECT_FALSE(e.plain());
  EXPECT_THROW(e.setPretrained(at::zeros({5, 3}), at::zeros({5}, at::kBool), 0.5), std::exception);
}

}  // namespace
}  // namespace autoglm::core::model
