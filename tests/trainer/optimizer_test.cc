#include "trainer/optimizer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>

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

// Frozen after 3 updates: the first 3 match LibTorch's AdamW, then the second
// moment stays and each update follows Adam's rule with that moment and the
// bias correction of step 3.
TEST(FusedAdam, FrozenVarianceKeepsTheSecondMomentOfTheLastWarmupStep) {
  at::manual_seed(5);
  const double lr = 0.01, wd = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  at::Tensor p = at::randn({40}).requires_grad_();
  at::Tensor q = p.detach().clone().requires_grad_();
  auto o = torch::optim::AdamWOptions(lr).weight_decay(wd);
  FusedAdamW frozen({p}, o);
  frozen.freezeVarianceAfter(3);
  torch::optim::AdamW plain({q}, o);
  auto stateOf = [&] {
    return static_cast<torch::optim::AdamWParamState&>(*frozen.state().begin()->second);
  };
  for (int s = 1; s <= 3; ++s) {
    at::Tensor g = at::randn({40});
    p.mutable_grad() = g.clone();
    q.mutable_grad() = g.clone();
    frozen.step();
    plain.step();
  }
  EXPECT_LT((p - q).abs().max().item<double>(), 1e-5);
  const at::Tensor v3 = stateOf().exp_avg_sq().clone();
  for (int s = 4; s <= 6; ++s) {
    at::Tensor g = at::randn({40});
    const at::Tensor before = p.detach().clone();
    const at::Tensor m = stateOf().exp_avg() * b1 + g * (1 - b1);
    const at::Tensor denom = (v3 / (1 - std::pow(b2, 3))).sqrt() + eps;
    const at::Tensor expect = before * (1 - lr * wd) - lr / (1 - std::pow(b1, s)) * m / denom;
    p.mutable_grad() = g.clone();
    q.mutable_grad() = g.clone();
    frozen.step();
    plain.step();
    EXPECT_TRUE(at::equal(stateOf().exp_avg_sq(), v3)) << "step " << s;
    EXPECT_TRUE(at::allclose(p, expect, 1e-5, 1e-6)) << "step " << s;
  }
  // LibTorch's AdamW kept moving its second moment, so the two now differ.
  EXPECT_GT((p - q).abs().max().item<double>(), 1e-6);
}

TEST(FusedAdam, FrozenVarianceNeedsTheFusedOptimizer) {
  at::Tensor p = at::randn({4}).requires_grad_();
  torch::optim::AdamW plain({p}, torch::optim::AdamWOptions(0.1));
  try {
    freezeVarianceAfter(plain, 10);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.fused_optimizer"), std::string::npos) << e.what();
  }
}

TEST(FusedAdam, FrozenVarianceSettingsAreChecked) {
  namespace c = parallel::data_parallel::compression;
  at::Tensor p = at::randn({4}).requires_grad_();
  FusedAdamW opt({p}, torch::optim::AdamWOptions(0.1));
  auto errorOf = [&](c::CompressionType type, int64_t warmup) {
    c::CompressionConfig cfg;
    cfg.type = type;
    cfg.warmup_steps = warmup;
    cfg.freeze_variance = true;
    try {
      applyFrozenVariance(cfg, opt);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(errorOf(c::CompressionType::kOnebit, 0).find("parallel.compression.warmup_steps > 0"), std::string::npos);
  EXPECT_NE(errorOf(c::CompressionType::kFp16, 5).find("onebit and topk, not fp16"), std::string::npos);
  EXPECT_EQ(errorOf(c::CompressionType::kTopk, 5), "");
}

}  // namespace
}  // namespace autoglm::trainer
