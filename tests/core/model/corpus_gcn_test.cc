#include "core/model/corpus_gcn.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

namespace autoglm::core::model {
namespace {

graph::CorpusGraph smallGraph() {
  graph::CorpusGraphConfig cfg;
  cfg.window = 3;
  return graph::buildCorpusGraph({{"a", "b", "c", "a"}, {"b", "d"}, {"c", "d", "e"}, {"a", "e"}}, cfg);
}

at::Tensor dense(const graph::CorpusGraph& g) {
  at::Tensor m = at::zeros({g.numNodes(), g.numNodes()}, at::kDouble);
  for (int64_t r = 0; r < g.numNodes(); ++r) {
    for (int64_t c = 0; c < g.numNodes(); ++c) m[r][c] = static_cast<double>(g.at(r, c));
  }
  return m;
}

TEST(CorpusGcnTest, SpmmEqualsDenseProductForwardAndBackward) {
  const graph::CorpusGraph g = smallGraph();
  const SymmetricCsr a = SymmetricCsr::of(g);
  const at::Tensor m = dense(g);
  EXPECT_TRUE(at::allclose(m, m.t()));
  at::manual_seed(1);
  const at::Tensor x = at::randn({g.numNodes(), 5}, at::kDouble).requires_grad_(true);
  const at::Tensor r = at::randn({g.numNodes(), 5}, at::kDouble);
  const at::Tensor y = symmetricSpmm(a, x);
  EXPECT_LT((y - at::mm(m, x)).abs().max().item<double>(), 1e-6);
  (y * r).sum().backward();
  EXPECT_LT((x.grad() - at::mm(m.t(), r)).abs().max().item<double>(), 1e-6);
}

TEST(CorpusGcnTest, FiniteDifferenceGradient) {
  const SymmetricCsr a = SymmetricCsr::of(smallGraph());
  at::manual_seed(2);
  const at::Tensor x = at::randn({a.n, 3}, at::kDouble).requires_grad_(true);
  const at::Tensor r = at::randn({a.n, 3}, at::kDouble);
  auto f = [&](const at::Tensor& v) { return (at::tanh(symmetricSpmm(a, v)) * r).sum(); };
  f(x).backward();
  const at::Tensor grad = x.grad().clone();
  torch::NoGradGuard no_grad;
  const double h = 1e-6;
  for (int64_t i = 0; i < a.n; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      at::Tensor p = x.detach().clone(), q = x.detach().clone();
      p[i][j] += h;
      q[i][j] -= h;
      const double num = (f(p).item<double>() - f(q).item<double>()) / (2 * h);
      EXPECT_NEAR(grad[i][j].item<double>(), num, 1e-6);
    }
  }
}

TEST(CorpusGcnTest, RejectsAWrongShape) {
  const SymmetricCsr a = SymmetricCsr::of(smallGraph());
  EXPECT_THROW(symmetricSpmm(a, at::zeros({a.n + 1, 2})), std::invalid_argument);
}

TEST(CorpusGcnTest, LearnsTheLabelsOfItsTrainingNodes) {
  const SymmetricCsr a = SymmetricCsr::of(smallGraph());
  at::manual_seed(3);
  CorpusGcn model(a.n, 8, 2, 0.0);
  const at::Tensor idx = at::arange(4, at::kLong), y = at::tensor({0, 1, 1, 0}, at::kLong);
  std::vector<at::Tensor> params{model.w1, model.w2};
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    for (auto& p : params) {
      if (p.grad().defined()) p.grad().zero_();
    }
    const at::Tensor loss = at::cross_entropy_loss(model.forward(a).index_select(0, idx), y);
    loss.backward();
    torch::NoGradGuard no_grad;
    for (auto& p : params) p.sub_(p.grad() * 0.5);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, first * 0.2);
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(model.forward(a).index_select(0, idx).argmax(1).equal(y));
}

}  // namespace
}  // namespace autoglm::core::model
