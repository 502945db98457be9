#include "trainer/optim/optimizer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "core/error.h"

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

// Frozen after step 2: element 0 keeps v, element 1 (no gradient before the
// freeze) takes bc2 * g^2 from its first gradient; the step uses bc2 of step 2.
TEST(SecondMomentFreeze, KeepsVAfterTheFreezeStepAndStartsZeroElementsAtTheirGradient) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999;
  at::Tensor p = at::zeros({2}).requires_grad_();
  at::Tensor q = p.detach().clone().requires_grad_();
  FusedAdamW frozen({p}, torch::optim::AdamWOptions(lr).weight_decay(0.0));
  torch::optim::AdamW plain({q}, torch::optim::AdamWOptions(lr).weight_decay(0.0));
  freezeSecondMomentAfter(frozen, 2);
  EXPECT_EQ(frozen.secondMomentFrozenAfter(), 2);
  for (int s = 0; s < 2; ++s) {
    p.mutable_grad() = at::tensor({1.0f, 0.0f});
    q.mutable_grad() = at::tensor({1.0f, 0.0f});
    frozen.step();
    plain.step();
  }
  // Up to the freeze step it is plain AdamW.
  EXPECT_TRUE(at::allclose(p, q, 1e-5, 1e-6)) << p << q;
  const at::Tensor v2 = secondMoment(frozen, p).clone();
  const double bc2 = 1.0 - b2 * b2;
  EXPECT_NEAR(v2[0].item<double>(), bc2, 1e-7);
  EXPECT_EQ(v2[1].item<float>(), 0.0f);
  const at::Tensor before = p.detach().clone();
  p.mutable_grad() = at::tensor({3.0f, 2.0f});
  frozen.step();
  const at::Tensor v3 = secondMoment(frozen, p);
  EXPECT_EQ(v3[0].item<float>(), v2[0].item<float>());
  EXPECT_NEAR(v3[1].item<double>(), bc2 * 4.0, 1e-7);
  // m3 = 0.1 * (0.81 + 0.9 + 3) = 0.471 and 0.1 * 2 = 0.2; bc1 = 1 - 0.9^3;
  // sqrt(v / bc2) is 1 and 2.
  const double step_size = lr / (1.0 - b1 * b1 * b1);
  EXPECT_NEAR((before[0] - p[0]).item<double>(), step_size * 0.471 / 1.0, 1e-5);
  EXPECT_NEAR((before[1] - p[1]).item<double>(), step_size * 0.2 / 2.0, 1e-5);
}

TEST(SecondMomentFreeze, ResumesFromSavedStateLikeAnUninterruptedRun) {
  at::manual_seed(5);
  at::Tensor a = at::randn({50}).requires_grad_();
  at::Tensor b = a.detach().clone().requires_grad_();
  FusedAdam full({a}, torch::optim::AdamOptions(0.01));
  full.freezeSecondMomentAfter(3);
  std::vector<at::Tensor> grads;
  for (int s = 0; s < 8; ++s) grads.push_back(at::randn({50}));
  std::ostringstream bytes;
  {
    FusedAdam first({b}, torch::optim::AdamOptions(0.01));
    first.freezeSecondMomentAfter(3);
    for (int s = 0; s < 5; ++s) {
      b.mutable_grad() = grads[static_cast<size_t>(s)].clone();
      first.step();
    }
    torch::serialize::OutputArchive out;
    first.save(out);
    out.save_to(bytes);
  }
  FusedAdam second({b}, torch::optim::AdamOptions(0.01));
  second.freezeSecondMomentAfter(3);
  torch::serialize::InputArchive in;
  std::istringstream src(bytes.str());
  in.load_from(src);
  second.load(in);
  for (int s = 0; s < 8; ++s) {
    a.mutable_grad() = grads[static_cast<size_t>(s)].clone();
    full.step();
    if (s >= 5) {
      b.mutable_grad() = grads[static_cast<size_t>(s)].clone();
      second.step();
    }
  }
  EXPECT_TRUE(at::equal(a, b)) << (a - b).abs().max();
}

TEST(SecondMomentFreeze, NeedsTheFusedPath) {
  at::Tensor p = at::zeros({3}).requires_grad_();
  torch::optim::AdamW plain({p}, torch::optim::AdamWOptions(0.1));
  try {
    freezeSecondMomentAfter(plain, 10);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.fused_optimizer"), std::string::npos) << e.what();
  }
  FusedAdam amsgrad({p}, torch::optim::AdamOptions(0.1).amsgrad(true));
  amsgrad.freezeSecondMomentAfter(10);
  p.mutable_grad() = at::ones({3});
  EXPECT_THROW(amsgrad.step(), ConfigError);
  // Without the freeze, amsgrad falls back to LibTorch's step.
  FusedAdam fallback({p}, torch::optim::AdamOptions(0.1).amsgrad(true));
  EXPECT_NO_THROW(fallback.step());
}

}  // namespace
}  // namespace autoglm::trainer
