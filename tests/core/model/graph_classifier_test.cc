// The classifier as an ordered list of named parts: names and order, forward
// over slices, replacing and removing parts.

#include "core/model/graph_classifier.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/model/gat_layer.h"
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

TEST(GraphClassifier, GatedUpdateIsAGruCellOverTheAttentionOutput) {
  ModelConfig cfg = smallConfig();
  cfg.update = BlockUpdate::kGated;
  cfg.readout = ReadoutKind::kGated;
  cfg.dropout = 0.0;
  cfg.attn_dropout = 0.0;
  GraphClassifier model(cfg, 20, 3);
  model->eval();
  Batch b;
  // block0 maps 12 -> 8 wide: the GRU's state is res_proj(h).
  auto block = model->partAs<GATLayer>("block0");
  at::Tensor h = at::randn({b.batch.num_nodes, 12});
  const at::Tensor got = block->forward(h, b.batch);
  GATLayerOptions plain = block->options();
  plain.gated = false;
  plain.residual = false;
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{b.batch.num_nodes, 8}));
  auto mods = block->named_children();
  auto* gru = mods["gru"]->as<torch::nn::GRUCell>();
  auto* res = mods["res_proj"]->as<torch::nn::Linear>();
  // The attention output m: the same block without its update, before ELU (ELU is
  // invertible, so undo it from a plain block holding the same weights).
  GATLayer twin(plain);
  {
    at::NoGradGuard ng;
    for (auto& p : twin.named_parameters()) p.value().copy_(block->named_parameters()[p.key()]);
  }
  twin.eval();
  const at::Tensor e = twin.forward(h, b.batch);
  const at::Tensor m = at::where(e > 0, e, at::log1p(e));
  EXPECT_TRUE(at::allclose(got, gru->forward(m, res->forward(h)), 1e-4, 1e-5));
  EXPECT_EQ(model->forward(b.batch).sizes(), (at::IntArrayRef{3, 3}));
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

// train.embedding_update: sparse. The table's gradient holds only the rows the
// batch looked up (token 3 and 11, 12 twice), summed, equal to the dense one;
// every other parameter's gradient is unchanged.
TEST(GraphClassifier, RowSparseEmbeddingGradientIsTheDenseOnesTouchedRows) {
  Batch b;
  ModelConfig cfg = smallConfig();
  cfg.dropout = 0.0;
  cfg.attn_dropout = 0.0;
  at::manual_seed(5);
  GraphClassifier dense(cfg, 20, 5);
  at::manual_seed(5);
  GraphClassifier sparse(cfg, 20, 5);
  EXPECT_EQ(sparse->useRowSparseGradients(), std::vector<std::string>{"embed.weight"});
  dense->forward(b.batch).sum().backward();
  sparse->forward(b.batch).sum().backward();
  const auto pd = dense->named_parameters(), ps = sparse->named_parameters();
  for (const auto& item : pd) {
    const at::Tensor& gd = item.value().grad();
    const at::Tensor& gs = ps[item.key()].grad();
    ASSERT_TRUE(gd.defined() && gs.defined()) << item.key();
    EXPECT_EQ(gs.is_sparse(), item.key() == "embed.weight") << item.key();
    EXPECT_TRUE(at::allclose(gs.is_sparse() ? gs.to_dense() : gs, gd, 1e-5, 1e-7)) << item.key();
  }
  const at::Tensor rows = ps["embed.weight"].grad().coalesce().indices()[0];
  std::vector<int64_t> ids(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + rows.numel());
  const at::Tensor looked_up = std::get<0>(at::_unique(b.batch.tokens));
  EXPECT_EQ(static_cast<int64_t>(ids.size()), looked_up.numel());
  for (int64_t id : ids) EXPECT_TRUE((b.batch.tokens == id).any().item<bool>()) << id;
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

// Early exit: an exit part after every block but the last; forwardExits gives
// each exit's logits with the final one equal to forward(); forwardEarlyExit
// gives each graph the logits of the exit it left at, the same as running that
// graph alone through that many blocks.
ModelConfig exitConfig() {
  ModelConfig cfg = smallConfig();
  cfg.early_exit = true;
  return cfg;
}

TEST(GraphClassifierEarlyExit, ExitPartsFollowEveryBlockButTheLast) {
  GraphClassifier m(exitConfig(), 20, 5);
  EXPECT_EQ(m->partNames(), (std::vector<std::string>{"embed", "block0", "exit0", "block1", "exit1", "block2",
                                                      "readout", "head"}));
  EXPECT_TRUE(m->named_parameters().contains("exit1.head.out.weight"));
  Batch f;
  m->eval();
  const std::vector<at::Tensor> exits = m->forwardExits(f.batch);
  ASSERT_EQ(exits.size(), 3u);
  EXPECT_TRUE(at::allclose(exits.back(), m->forward(f.batch)));
  EXPECT_FALSE(at::allclose(exits[0], exits.back())) << "exit heads have parameters of their own";
}

TEST(GraphClassifierEarlyExit, DetachedExitsLeaveTheBlocksAlone) {
  for (ExitTraining how : {ExitTraining::kJoint, ExitTraining::kDetached}) {
    ModelConfig cfg = exitConfig();
    cfg.exit_training = how;
    // Linear heads and no dropout: under joint training the exit's gradient
    // reaches block0 for any initialisation (no dead ReLU unit or dropped
    // hidden unit can stop it).
    cfg.head_hidden = 0;
    cfg.dropout = 0.0;
    cfg.attn_dropout = 0.0;
    GraphClassifier m(cfg, 20, 5);
    Batch f;
    m->forwardExits(f.batch)[0].sum().backward();
    const at::Tensor g = m->named_parameters()["block0.proj.weight"].grad();
    const bool reached = g.defined() && g.abs().sum().item<double>() > 0;
    EXPECT_EQ(reached, how == ExitTraining::kJoint);
    EXPECT_TRUE(m->named_parameters()["exit0.head.out.weight"].grad().defined());
  }
}

TEST(GraphClassifierEarlyExit, ThresholdsOfOneAndZero) {
  Batch f;
  at::manual_seed(3);
  GraphClassifier m(exitConfig(), 20, 5);
  m->eval();
  at::NoGradGuard no_grad;
  const auto exits = m->forwardExits(f.batch);
  const auto all = m->forwardEarlyExit(f.batch, 1.0);
  EXPECT_TRUE(at::allclose(all.logits, exits.back()));
  EXPECT_TRUE(at::equal(all.exit_block, at::full({3}, 3, at::TensorOptions().dtype(at::kLong))));
  const auto first = m->forwardEarlyExit(f.batch, 0.0);
  EXPECT_TRUE(at::allclose(first.logits, exits[0]));
  EXPECT_TRUE(at::equal(first.exit_block, at::ones({3}, at::TensorOptions().dtype(at::kLong))));
}

TEST(GraphClassifierEarlyExit, GraphsLeaveOnTheirOwnAndTheRestRunOn) {
  Batch f;
  at::manual_seed(7);
  GraphClassifier m(exitConfig(), 20, 5);
  m->eval();
  at::NoGradGuard no_grad;
  // Each graph alone: its confidence at each exit.
  std::vector<std::vector<at::Tensor>> alone;
  for (auto& g : f.graphs) alone.push_back(m->forwardExits(collate({g.view()})));
  auto confidence = [](const at::Tensor& logits) { return at::softmax(logits, 1).max().item<double>(); };
  // A threshold between graph 0's exit-0 confidence and the others', so that
  // graphs leave at different exits.
  std::vector<double> c0;
  for (const auto& a : alone) c0.push_back(confidence(a[0]));
  const double threshold = *std::max_element(c0.begin(), c0.end()) - 1e-6;
  const auto out = m->forwardEarlyExit(f.batch, threshold);
  int left_first = 0;
  for (size_t i = 0; i < alone.size(); ++i) {
    size_t want = alone[i].size() - 1;
    for (size_t k = 0; k + 1 < alone[i].size(); ++k) {
      if (confidence(alone[i][k]) >= threshold) {
        want = k;
        break;
      }
    }
    left_first += want == 0;
    EXPECT_EQ(out.exit_block[static_cast<int64_t>(i)].item<int64_t>(), static_cast<int64_t>(want + 1)) << i;
    EXPECT_TRUE(at::allclose(out.logits[static_cast<int64_t>(i)], alone[i][want][0], 1e-5, 1e-6)) << i;
  }
  EXPECT_GE(left_first, 1);
  EXPECT_LT(left_first, 3) << "the case needs graphs that go on";
}

TEST(GraphClassifierEarlyExit, WithoutExitsEveryBlockRuns) {
  Batch f;
  GraphClassifier m(smallConfig(), 20, 5);
  m->eval();
  const auto out = m->forwardEarlyExit(f.batch, 0.0);
  EXPECT_TRUE(at::allclose(out.logits, m->forward(f.batch)));
  EXPECT_EQ(out.exit_block.min().item<int64_t>(), 3);
}

}  // namespace
}  // namespace autoglm::core::model
