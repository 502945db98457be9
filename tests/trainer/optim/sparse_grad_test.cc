// Adam and AdamW (fused and LibTorch's) with sparse COO gradients
// (trainer/optim/optimizer.h, adam_kernel.h, row_sparse.h): not lazy, the
// step is bit for bit the dense step on the densified gradient; lazy, only
// the gradient's rows move, each by the dense arithmetic.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "trainer/checkpoint/param_state.h"
#include "trainer/optim/optimizer.h"

namespace autoglm::trainer {
namespace {

constexpr int64_t kRows = 40, kWidth = 8;

// A sparse gradient of a [rows, width] table with one row of values per id, in
// the order given (repeats allowed, so uncoalesced).
at::Tensor sparseGrad(const std::vector<int64_t>& ids, int64_t rows = kRows, int64_t width = kWidth) {
  const at::Tensor idx = at::tensor(ids, at::kLong).unsqueeze(0);
  return at::sparse_coo_tensor(idx, at::randn({static_cast<int64_t>(ids.size()), width}), {rows, width});
}

// Every row once, shuffled, then `repeats` random rows again.
std::vector<int64_t> everyRowAndRepeats(int64_t repeats) {
  const at::Tensor perm = at::cat({at::randperm(kRows, at::kLong), at::randint(kRows, {repeats}, at::kLong)});
  return {perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel()};
}

at::Tensor moment(torch::optim::Optimizer& opt, const at::Tensor& p, const std::string& name) {
  const std::optional<Moments> m = momentsOf(opt, p);
  for (const auto& [n, t] : m->tensors) {
    if (n == name) return t;
  }
  return {};
}

TrainConfig config(OptimizerKind kind, bool fused, EmbeddingUpdate update) {
  TrainConfig t;
  t.optimizer = kind;
  t.fused_optimizer = fused;
  t.embedding_update = update;
  t.lr = 0.01;
  t.weight_decay = 0.05;
  return t;
}

std::string name(OptimizerKind kind, bool fused) {
  return std::string(kind == OptimizerKind::kAdam ? "adam" : "adamw") + (fused ? " fused" : " libtorch");
}

void expectSameState(torch::optim::Optimizer& a, const at::Tensor& pa, torch::optim::Optimizer& b,
                     const at::Tensor& pb, const std::string& what) {
  EXPECT_TRUE(at::equal(pa, pb)) << what << ": max diff " << (pa - pb).abs().max().item<double>();
  EXPECT_TRUE(at::equal(moment(a, pa, "exp_avg"), moment(b, pb, "exp_avg"))) << what;
  EXPECT_TRUE(at::equal(moment(a, pa, "exp_avg_sq"), moment(b, pb, "exp_avg_sq"))) << what;
  EXPECT_EQ(momentsOf(a, pa)->step, momentsOf(b, pb)->step) << what;
}

// With every row touched every step, lazy is dense: weight decay, bias
// corrections and the second-moment freeze included. The lazy rows use the
// fused arithmetic with fused_optimizer: false too.
TEST(SparseGrad, LazyEqualsDenseWhenEveryRowIsTouched) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    for (bool fused : {true, false}) {
      at::manual_seed(7);
      at::Tensor a = at::randn({kRows, kWidth}).requires_grad_();
      at::Tensor b = a.detach().clone().requires_grad_();
      auto lazy = makeOptimizer(config(kind, fused, EmbeddingUpdate::kLazy), {a});
      auto dense = makeOptimizer(config(kind, true, EmbeddingUpdate::kDense), {b});
      if (fused) {
        freezeSecondMomentAfter(*lazy, 2);
        freezeSecondMomentAfter(*dense, 2);
      }
      for (int s = 0; s < 5; ++s) {
        const at::Tensor g = sparseGrad(everyRowAndRepeats(25));
        a.mutable_grad() = g;
        b.mutable_grad() = densified(g);
        lazy->step();
        dense->step();
      }
      expectSameState(*lazy, a, *dense, b, name(kind, fused));
      EXPECT_TRUE(a.grad().is_sparse()) << "the step leaves the gradient as it was";
    }
  }
}

// One lazy step after a dense one (so that every row has moments that a dense
// step would decay): rows 0, 2, 3 and 5 keep value and moments exactly; rows
// 1 and 4 (4 twice in the gradient) take Adam's step with step count 2.
TEST(SparseGrad, LazyMovesOnlyTouchedRowsByTheDenseArithmetic) {
  const double lr = 0.1, wd = 0.2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    for (bool fused : {true, false}) {
      at::manual_seed(3);
      TrainConfig t = config(kind, fused, EmbeddingUpdate::kLazy);
      t.lr = lr;
      t.weight_decay = wd;
      at::Tensor p = at::randn({6, 3}).requires_grad_();
      auto opt = makeOptimizer(t, {p});
      p.mutable_grad() = at::randn({6, 3});
      opt->step();
      const at::Tensor p1 = p.detach().clone(), m1 = moment(*opt, p, "exp_avg").clone(),
                       v1 = moment(*opt, p, "exp_avg_sq").clone();
      const at::Tensor g = sparseGrad({4, 1, 4}, 6, 3);
      p.mutable_grad() = g;
      opt->step();
      const at::Tensor m2 = moment(*opt, p, "exp_avg"), v2 = moment(*opt, p, "exp_avg_sq");
      EXPECT_EQ(momentsOf(*opt, p)->step, 2);
      for (int64_t r : {0, 2, 3, 5}) {
        EXPECT_TRUE(at::equal(p[r], p1[r]) && at::equal(m2[r], m1[r]) && at::equal(v2[r], v1[r]))
            << name(kind, fused) << " row " << r;
      }
      const at::Tensor gd = g.to_dense().to(at::kDouble);
      for (int64_t r : {1, 4}) {
        at::Tensor pr = p1[r].to(at::kDouble), gr = gd[r];
        if (kind == OptimizerKind::kAdamW) {
          pr = pr * (1 - lr * wd);
        } else {
          gr = gr + wd * pr;
        }
        const at::Tensor m = b1 * m1[r].to(at::kDouble) + (1 - b1) * gr;
        const at::Tensor v = b2 * v1[r].to(at::kDouble) + (1 - b2) * gr * gr;
        const at::Tensor want = pr - lr / (1 - b1 * b1) * m / ((v / (1 - b2 * b2)).sqrt() + eps);
        EXPECT_TRUE(at::allclose(m2[r].to(at::kDouble), m, 1e-5, 1e-7)) << name(kind, fused) << " row " << r;
        EXPECT_TRUE(at::allclose(v2[r].to(at::kDouble), v, 1e-5, 1e-9)) << name(kind, fused) << " row " << r;
        EXPECT_TRUE(at::allclose(p[r].to(at::kDouble), want, 1e-5, 1e-6))
            << name(kind, fused) << " row " << r << ": " << p[r] << want;
      }
    }
  }
}

// Not lazy: a row-sparse gradient (uncoalesced, some rows untouched) and an
// element-sparse one step exactly as their dense sums, moments of untouched
// rows decaying; fused with a freeze that starts rows first touched later.
TEST(SparseGrad, NotLazyStepIsTheDenseStepBitForBit) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    for (bool fused : {true, false}) {
      at::manual_seed(5);
      at::Tensor a = at::randn({kRows, kWidth}).requires_grad_();
      at::Tensor b = a.detach().clone().requires_grad_();
      auto sparse = makeOptimizer(config(kind, fused, EmbeddingUpdate::kSparse), {a});
      auto dense = makeOptimizer(config(kind, fused, EmbeddingUpdate::kDense), {b});
      if (fused) {
        freezeSecondMomentAfter(*sparse, 1);
        freezeSecondMomentAfter(*dense, 1);
      }
      for (int s = 0; s < 4; ++s) {
        at::Tensor g;
        if (s % 2 == 0) {
          g = sparseGrad({3, 17, 3, 0, 39, 17, 3, 22});
        } else {
          g = (at::randn({kRows, kWidth}) * (at::rand({kRows, kWidth}) < 0.2)).to_sparse();  // sparse_dim 2
        }
        a.mutable_grad() = g;
        b.mutable_grad() = densified(g);
        sparse->step();
        dense->step();
      }
      expectSameState(*sparse, a, *dense, b, name(kind, fused));
      EXPECT_TRUE(a.grad().is_sparse());
    }
  }
}

// A table large enough that the row loops split into chunks across threads
// (each finding its first touched row on its own).
TEST(SparseGrad, ChunksOfALargeTableStepLikeTheDenseStep) {
  const int64_t rows = 6000;
  at::manual_seed(8);
  for (EmbeddingUpdate update : {EmbeddingUpdate::kSparse, EmbeddingUpdate::kLazy}) {
    at::Tensor a = at::randn({rows, kWidth}).requires_grad_();
    at::Tensor b = a.detach().clone().requires_grad_();
    auto sparse = makeOptimizer(config(OptimizerKind::kAdamW, true, update), {a});
    auto dense = makeOptimizer(config(OptimizerKind::kAdamW, true, EmbeddingUpdate::kDense), {b});
    for (int s = 0; s < 2; ++s) {
      // Lazy equals dense only where every row is touched.
      const at::Tensor ids = update == EmbeddingUpdate::kLazy
                                 ? at::cat({at::randperm(rows, at::kLong), at::randint(rows, {500}, at::kLong)})
                                 : at::randint(rows, {700}, at::kLong);
      const at::Tensor g = sparseGrad({ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel()}, rows);
      a.mutable_grad() = g;
      b.mutable_grad() = densified(g);
      sparse->step();
      dense->step();
    }
    expectSameState(*sparse, a, *dense, b, core::enumName(update));
  }
}

// Lazy state has the dense layout (checkpoints need nothing new).
TEST(SparseGrad, LazyStateHasTheParametersShape) {
  at::Tensor p = at::zeros({kRows, kWidth}).requires_grad_();
  auto opt = makeOptimizer(config(OptimizerKind::kAdamW, true, EmbeddingUpdate::kLazy), {p});
  p.mutable_grad() = sparseGrad({1, 2});
  opt->step();
  EXPECT_EQ(moment(*opt, p, "exp_avg").sizes(), p.sizes());
  EXPECT_EQ(moment(*opt, p, "exp_avg_sq").sizes(), p.sizes());
  EXPECT_EQ(momentsOf(*opt, p)->step, 1);
}

TEST(SparseGrad, RowsOutsideTheParameterAreAnError) {
  at::Tensor p = at::zeros({4, 2}).requires_grad_();
  auto opt = makeOptimizer(config(OptimizerKind::kAdam, true, EmbeddingUpdate::kLazy), {p});
  p.mutable_grad() = at::_sparse_coo_tensor_unsafe(at::tensor({7}, at::kLong).unsqueeze(0), at::ones({1, 2}), {4, 2});
  EXPECT_THROW(opt->step(), Error);
}

}  // namespace
}  // namespace autoglm::trainer
