#include "trainer/optimizer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

namespace autoglm::trainer {
namespace {

// Runs `steps` updates with random gradients on two copies of the same
// parameters, one per optimizer, and returns the largest difference.
template <typename Fused, typename Plain, typename Options>
double maxDifference(const Options& opts, int steps) {
  at::manual_seed(11);
  std::vector<at::Tensor> a{at::randn({300, 17}), at::randn({5})}, b;
  for (auto& t : a) {
    t.requires_grad_();
    b.push_back(t.detach().clone().requires_grad_());
  }
  Fused fused(a, opts);
  Plain plain(b, opts);
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < a.size(); ++i) {
      at::Tensor g = at::randn(a[i].sizes());
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
    fused.step();
    plain.step();
  }
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  // Moving is not the same as staying: the parameters did change.
  EXPECT_GT((a[0] - b[0]).numel(), 0);
  return worst;
}

TEST(FusedAdam, AdamWMatchesLibTorch) {
  auto o = torch::optim::AdamWOptions(0.01).weight_decay(0.05);
  EXPECT_LT((maxDifference<FusedAdamW, torch::optim::AdamW>(o, 25)), 1e-5);
}

TEST(FusedAdam, AdamWithL2MatchesLibTorch) {
  auto o = torch::optim::AdamOptions(0.01).weight_decay(0.01);
  EXPECT_LT((maxDifference<FusedAdam, torch::optim::Adam>(o, 25)), 1e-5);
}

TEST(FusedAdam, StateIsSavedAndRestoredLikeLibTorch) {
  at::manual_seed(3);
  at::Tensor p = at::randn({10}).requires_grad_();
  FusedAdamW fused({p}, torch::optim::AdamWOptions(0.1));
  p.mutable_grad() = at::ones({10});
  fused.step();
  torch::serialize::OutputArchive out;
  fused.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  // A plain AdamW takes the fused optimizer's state and continues identically.
  at::Tensor q = p.detach().clone().requires_grad_();
  torch::optim::AdamW plain({q}, torch::optim::AdamWOptions(0.1));
  torch::serialize::InputArchive in;
  std::istringstream src(bytes.str());
  in.load_from(src);
  plain.load(in);
  p.mutable_grad() = at::full({10}, 0.5);
  q.mutable_grad() = at::full({10}, 0.5);
  fused.step();
  plain.step();
  // A fresh AdamW would move each entry by lr = 0.1 here, the restored one by about 0.009.
  EXPECT_TRUE(at::allclose(p, q, 1e-5, 1e-6)) << p << q;
}

TEST(SecondMoment, IsAdamsExpAvgSqOnceThereIsState) {
  for (bool fused : {true, false}) {
    for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      TrainConfig t;
      t.optimizer = kind;
      t.fused_optimizer = fused;
      t.weight_decay = 0.0;
      at::Tensor p = at::zeros({4}).requires_grad_();
      auto opt = makeOptimizer(t, {p});
      EXPECT_FALSE(secondMoment(*opt, p).defined());
      p.mutable_grad() = at::full({4}, 2.0);
      opt->step();
      const at::Tensor v = secondMoment(*opt, p);
      ASSERT_TRUE(v.defined());
      // (1 - beta2) * g^2 after one step.
      EXPECT_TRUE(at::allclose(v, at::full({4}, 0.001 * 4.0), 1e-4)) << v;
      EXPECT_FALSE(secondMoment(*opt, at::zeros({4})).defined());
    }
  }
}

}  // namespace
}  // namespace autoglm::trainer
