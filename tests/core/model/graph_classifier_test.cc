// The classifier as an ordered list of named parts: names and order, forward
// over slices, replacing and removing parts.

#include "core/model/graph_classifier.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/model/readout.h"

namespace autoglm::core::model {
namespace {

using namespace core::graph;

ModelConfig smallConfig() {
  ModelConfig cfg;
  cfg.embed_dim = 12;
  cfg.layers = 3;
  cfg.heads = 2;
  cfg.head_dim = 4;
  cfg.head_hidden = 6;
  return cfg;
}

struct Batch {
  std::vector<Graph> graphs;
  GraphBatch batch;
  Batch() {
    CooccurrenceGraphBuilder b(GraphConfig{});
    graphs = {b.build({3, 4, 5, 3, 6}), b.build({9, 10}), b.build({11, 12, 13, 14, 11, 12})};
    std::vector<GraphView> views;
    for (auto& g : graphs) views.push_back(g.view());
    batch = collate(views);
  }
};

TEST(GraphClassifier, PartsInForwardOrderWithPrefixedParameterNames) {
  GraphClassifier m(smallConfig(), 20, 5);
  EXPECT_EQ(m->partNames(), (std::vector<std::string>{"embed", "block0", "block1", "block2", "readout", "head"}));
  const auto named = m->named_parameters();
  ASSERT_GT(named.size(), 0u);
  EXPECT_EQ(named.keys().front(), "embed.weight");
  EXPECT_EQ(named.keys().back(), "head.out.bias");
  EXPECT_TRUE(named.contains("block0.proj.weight"));
  EXPECT_TRUE(named.contains("block0.res_proj.weight")) << "12 -> 2x4 needs a residual projection";
  EXPECT_FALSE(named.contains("block1.res_proj.weight"));
  EXPECT_THROW(m->part("block7"), Error);
}

TEST(GraphClassifier, SameSeedSameModel) {
  at::manual_seed(5);
  GraphClassifier a(smallConfig(), 20, 5);
  at::manual_seed(5);
  GraphClassifier b(smallConfig(), 20, 5);
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i])) << i;
}

TEST(GraphClassifier, SlicesChainToTheWholeForward) {
  Batch f;
  at::manual_seed(2);
  GraphClassifier whole(smallConfig(), 20, 5);
  whole->eval();
  const at::Tensor want = whole->forward(f.batch);
  ASSERT_EQ(want.sizes(), (at::IntArrayRef{3, 5}));
  for (size_t cut = 0; cut + 1 < whole->partNames().size(); ++cut) {
    at::manual_seed(2);
    GraphClassifier first(smallConfig(), 20, 5);
    at::manual_seed(2);
    GraphClassifier second(smallConfig(), 20, 5);
    first->keepParts(0, cut);
    second->keepParts(cut + 1, whole->partNames().size() - 1);
    first->eval();
    second->eval();
    EXPECT_EQ(first->part(whole->partNames()[cut + 1]), nullptr);
    EXPECT_EQ(second->part("embed"), nullptr);
    // Each stage holds only its own parameters.
    EXPECT_EQ(first->parameters().size() + second->parameters().size(), whole->parameters().size()) << cut;
    const at::Tensor mid = first->forward(f.batch);
    const at::Tensor got = second->forward(mid, f.batch);
    EXPECT_TRUE(at::allclose(got, want, 1e-6, 1e-6)) << "cut after part " << cut;
    EXPECT_THROW(second->forward(f.batch), Error) << "a later slice needs the previous activations";
  }
}

TEST(GraphClassifier, ReplacePartSwapsByName) {
  Batch f;
  at::manual_seed(4);
  GraphClassifier m(smallConfig(), 20, 5);
  m->eval();
  const at::Tensor before = m->forward(f.batch);
  auto mean = std::make_shared<Readout>(ReadoutKind::kMean, 8);  // mean_max pooled 16; the head expects 16
  EXPECT_THROW(m->replacePart("nope", mean), Error);
  // The same contract: a readout of the same kind gives the same logits.
  m->replacePart("readout", std::make_shared<Readout>(ReadoutKind::kMeanMax, 8));
  EXPECT_TRUE(at::allclose(m->forward(f.batch), before));
  EXPECT_NE(m->partAs<Readout>("readout"), nullptr);
  m->keepParts(0, 3);
  EXPECT_THROW(m->replacePart("readout", mean), Error) << "removed parts cannot be replaced";
}

}  // namespace
}  // namespace autoglm::core::model
