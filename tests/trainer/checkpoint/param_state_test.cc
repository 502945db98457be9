// The optimizer state a checkpoint keeps of a parameter (param_state.h):
// Adagrad's step and sum travel like Adam's moments.

#include "trainer/checkpoint/param_state.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>

#include <string>

#include "core/error.h"

namespace autoglm::trainer {
namespace {

TEST(ParamState, AdagradStateRoundTripsAndContinuesAsTheOriginal) {
  at::manual_seed(2);
  at::Tensor p = at::randn({5, 3}).requires_grad_();
  torch::optim::Adagrad original({p}, torch::optim::AdagradOptions(0.1).weight_decay(0.01));
  checkRestorable(original, "here");
  for (int s = 0; s < 2; ++s) {
    p.mutable_grad() = at::randn({5, 3});
    original.step();
  }
  const std::optional<Moments> m = momentsOf(original, p);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->step, 2);
  ASSERT_EQ(m->tensors.size(), 1u);
  EXPECT_EQ(m->tensors[0].first, "sum");
  EXPECT_GT(m->tensors[0].second.min().item<float>(), 0.0f);

  at::Tensor q = p.detach().clone().requires_grad_();
  torch::optim::Adagrad restored({q}, torch::optim::AdagradOptions(0.1).weight_decay(0.01));
  setMoments(restored, q, {m->step, {{"sum", m->tensors[0].second.clone()}}});
  const at::Tensor g = at::randn({5, 3});
  p.mutable_grad() = g.clone();
  q.mutable_grad() = g.clone();
  original.step();
  restored.step();
  // A fresh Adagrad (sum 0, step 1) would move each entry by about lr = 0.1.
  EXPECT_TRUE(at::equal(p, q)) << (p - q).abs().max();
  EXPECT_EQ(momentsOf(restored, q)->step, 3);
}

TEST(ParamState, StateOfAnotherOptimizerIsACheckpointError) {
  at::Tensor p = at::zeros({4}).requires_grad_();
  torch::optim::Adam adam({p}, torch::optim::AdamOptions(0.1));
  p.mutable_grad() = at::ones({4});
  adam.step();
  const Moments adam_state = *momentsOf(adam, p);
  torch::optim::Adagrad adagrad({p}, torch::optim::AdagradOptions(0.1));
  try {
    setMoments(adagrad, p, adam_state);
    FAIL() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'sum'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(setMoments(adam, p, *momentsOf(adagrad, p)), CheckpointError);
}

}  // namespace
}  // namespace autoglm::trainer
