#include "core/model/contrastive.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/model/graph_classifier.h"

namespace autoglm::core::model {
namespace {

at::Tensor rows(std::vector<float> v, int64_t n) {
  return at::tensor(v, at::TensorOptions().dtype(at::kFloat)).reshape({n, -1});
}

TEST(InfoNce, HandComputedTwoGraphs) {
  // z1 = [e1, e2], z2 = [(1,1), (0,2)], temperature 1. Normalised rows:
  //   a0 = (1,0), a1 = (0,1), a2 = (s,s), a3 = (0,1) with s = 1/sqrt(2);
  //   positives 0<->2, 1<->3.
  // anchor 0: similarities to 1,2,3 = 0, s, 0  -> -log(e^s / (2 + e^s))      = 0.686192
  // anchor 1: to 0,2,3 = 0, s, 1 (target 3)    -> -log(e / (1 + e^s + e))    = 0.748573
  // anchor 2: to 0,1,3 = s, s, s               -> log 3                      = 1.098612
  // anchor 3: to 0,1,2 = 0, 1, s (target 1)    -> as anchor 1                = 0.748573
  // mean = (0.686192 + 2 * 0.748573 + 1.098612) / 4 = 0.820488
  const at::Tensor z1 = rows({1, 0, 0, 1}, 2), z2 = rows({1, 1, 0, 2}, 2);
  EXPECT_NEAR(infoNceLoss(z1, z2, 1.0).item<double>(), 0.8204875, 1e-5);
  // Symmetric in the views, and scale-free in each row.
  EXPECT_NEAR(infoNceLoss(z2, z1, 1.0).item<double>(), 0.8204875, 1e-5);
  EXPECT_NEAR(infoNceLoss(z1 * 3.0, z2, 1.0).item<double>(), 0.8204875, 1e-5);
  // Identical orthogonal views at temperature 1: each anchor -log(e / (e + 2)).
  EXPECT_NEAR(infoNceLoss(z1, z1, 1.0).item<double>(), std::log(1.0 + 2.0 / std::exp(1.0)), 1e-5);
}

TEST(InfoNce, GradientIsFinite) {
  at::manual_seed(0);
  const at::Tensor z1 = at::randn({5, 3}).requires_grad_(true);
  const at::Tensor z2 = at::randn({5, 3}).requires_grad_(true);
  at::Tensor loss = infoNceLoss(z1, z2, 0.2);
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  EXPECT_TRUE(z1.grad().isfinite().all().item<bool>());
  EXPECT_TRUE(z2.grad().isfinite().all().item<bool>());
  EXPECT_GT(z1.grad().abs().sum().item<double>(), 0.0);
}

TEST(InfoNce, MatchedViewsScoreLowerThanShuffledPairs) {
  const at::Tensor z = at::eye(4, at::TensorOptions().dtype(at::kFloat));  // 4 orthogonal graphs
  const double matched = infoNceLoss(z, z, 0.2).item<double>();
  const double shuffled = infoNceLoss(z, at::roll(z, 1, 0), 0.2).item<double>();
  EXPECT_LT(matched, shuffled);
  // Each anchor: its positive at 1 / 0.2 = 5, six others at 0 -> log(1 + 6 e^-5).
  EXPECT_NEAR(matched, std::log(1.0 + 6.0 * std::exp(-5.0)), 1e-5);
}

TEST(InfoNce, RejectsMismatchedShapesAndSingleGraphs) {
  EXPECT_THROW(infoNceLoss(at::ones({2, 3}), at::ones({3, 3}), 0.5), Error);
  EXPECT_THROW(infoNceLoss(at::ones({1, 3}), at::ones({1, 3}), 0.5), Error);
}

TEST(Encoder, PoolsGraphsWithoutTheHead) {
  ModelConfig cfg;
  cfg.embed_dim = 8;
  cfg.layers = 2;
  cfg.heads = 2;
  cfg.head_dim = 4;
  cfg.early_exit = true;
  GraphClassifier model(cfg, 20, 3);
  model->eval();
  graph::CooccurrenceGraphBuilder b(graph::GraphConfig{});
  const graph::Graph g0 = b.build({3, 4, 5}), g1 = b.build({6, 7, 8, 9});
  const graph::GraphBatch batch = graph::collate({g0.view(), g1.view()});
  const at::Tensor v = encodeGraphs(*model, batch, 0.0);
  EXPECT_EQ(v.size(0), 2);
  EXPECT_EQ(v.size(1), encoderDim(*model));
  // The head applied to the encoder's output gives the classifier's logits.
  const at::Tensor logits = model->part("head")->forward(v, batch);
  EXPECT_TRUE(at::allclose(logits, model->forward(batch), 1e-5, 1e-6));
  // Feature dropout applies in eval mode too (the pre-trainer's views).
  EXPECT_FALSE(at::allclose(encodeGraphs(*model, batch, 0.5), v));
  ProjectionHead proj(encoderDim(*model), 6);
  EXPECT_EQ(proj->forward(v).size(1), 6);
}

}  // namespace
}  // namespace autoglm::core::model
