// Adagrad with sparse gradients (trainer/optim/adagrad.h): the dense step on
// the densified gradient, except that lazy weight decay reaches touched rows
// only.

#include "trainer/optim/adagrad.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trainer/optim/optimizer.h"

namespace autoglm::trainer {
namespace {

at::Tensor sparseGrad(const std::vector<int64_t>& ids, int64_t rows, int64_t width) {
  const at::Tensor idx = at::tensor(ids, at::kLong).unsqueeze(0);
  return at::sparse_coo_tensor(idx, at::randn({static_cast<int64_t>(ids.size()), width}), {rows, width});
}

at::Tensor sumOf(torch::optim::Optimizer& opt, const at::Tensor& p) {
  return static_cast<torch::optim::AdagradParamState&>(*opt.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())))
      .sum();
}

TrainConfig adagrad(EmbeddingUpdate update, double weight_decay) {
  TrainConfig t;
  t.optimizer = OptimizerKind::kAdagrad;
  t.embedding_update = update;
  t.lr = 0.05;
  t.weight_decay = weight_decay;
  return t;
}

// Without weight decay LibTorch's sparse step is exact, lazy or not; with it,
// not lazy, the gradient is densified. Rows 1 and 5 are never touched.
TEST(Adagrad, SparseGradientStepsExactlyAsItsDenseSum) {
  struct Case {
    EmbeddingUpdate update;
    double wd;
  };
  for (const Case c : {Case{EmbeddingUpdate::kSparse, 0.0}, Case{EmbeddingUpdate::kLazy, 0.0},
                       Case{EmbeddingUpdate::kSparse, 0.1}, Case{EmbeddingUpdate::kDense, 0.1}}) {
    at::manual_seed(9);
    at::Tensor a = at::randn({9, 5}).requires_grad_();  // 45 elements: vector loops and their tails
    at::Tensor b = a.detach().clone().requires_grad_();
    auto sparse = makeOptimizer(adagrad(c.update, c.wd), {a});
    auto dense = makeOptimizer(adagrad(EmbeddingUpdate::kDense, c.wd), {b});
    for (int s = 0; s < 3; ++s) {
      const at::Tensor g = sparseGrad({0, 7, 2, 0, 3, 7, 0, 4, 6, 8}, 9, 5);
      a.mutable_grad() = g;
      b.mutable_grad() = densified(g);
      sparse->step();
      dense->step();
    }
    const std::string what = std::string(core::enumName(c.update)) + " wd " + std::to_string(c.wd);
    EXPECT_TRUE(at::equal(a, b)) << what << ": " << (a - b).abs().max().item<double>();
    EXPECT_TRUE(at::equal(sumOf(*sparse, a), sumOf(*dense, b))) << what;
    EXPECT_TRUE(a.grad().is_sparse()) << what;
  }
}

// Lazy with weight decay: touched rows take g + wd*p, as LibTorch's dense
// Adagrad without decay on that gradient densified; untouched rows and their
// sums stay.
TEST(Adagrad, LazyWeightDecayReachesTouchedRowsOnly) {
  at::manual_seed(4);
  const double wd = 0.1;
  at::Tensor a = at::randn({6, 3}).requires_grad_();
  at::Tensor b = a.detach().clone().requires_grad_();
  auto lazy = makeOptimizer(adagrad(EmbeddingUpdate::kLazy, wd), {a});
  torch::optim::Adagrad plain({b}, torch::optim::AdagradOptions(0.05));
  for (int s = 0; s < 2; ++s) {
    const at::Tensor before = a.detach().clone(), sum_before = sumOf(*lazy, a).clone();
    const at::Tensor g = sparseGrad({4, 1, 4}, 6, 3).coalesce();
    const at::Tensor rows = g._indices()[0];
    a.mutable_grad() = g;
    b.mutable_grad() =
        at::sparse_coo_tensor(g._indices(), g._values().add(b.detach().index_select(0, rows), wd), g.sizes())
            .to_dense();
    lazy->step();
    plain.step();
    EXPECT_TRUE(at::equal(a, b)) << "step " << s << ": " << (a - b).abs().max().item<double>();
    EXPECT_TRUE(at::equal(sumOf(*lazy, a), sumOf(plain, b))) << "step " << s;
    for (int64_t r : {0, 2, 3, 5}) {
      EXPECT_TRUE(at::equal(a[r], before[r]) && at::equal(sumOf(*lazy, a)[r], sum_before[r])) << "row " << r;
    }
    EXPECT_FALSE(at::equal(a[1], before[1]));
  }
  // Not lazy, the same gradient decays every row.
  at::Tensor c = at::ones({6, 3}).requires_grad_();
  auto dense = makeOptimizer(adagrad(EmbeddingUpdate::kSparse, wd), {c});
  c.mutable_grad() = sparseGrad({4}, 6, 3);
  dense->step();
  EXPECT_LT(c[0][0].item<float>(), 1.0f);
}

}  // namespace
}  // namespace autoglm::trainer
