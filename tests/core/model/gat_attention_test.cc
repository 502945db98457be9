#include "core/model/gat_attention.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "core/model/gat_layer.h"
#include "core/graph/graph_builder.h"

namespace autoglm::core::model {
namespace {

using namespace core::graph;

struct Fixture {
  std::vector<Graph> graphs;
  GraphBatch batch;
  Fixture() {
    GraphConfig cfg;
    cfg.window = 3;
    CooccurrenceGraphBuilder b(cfg);
    graphs = {b.build({3, 4, 5, 3, 6}), b.build({9, 10}), b.build({11, 12, 13, 14, 11, 12})};
    std::vector<GraphView> views;
    for (auto& g : graphs) views.push_back(g.view());
    batch = collate(views);
  }
};

TEST(GatAttention, WeightsSumToOnePerNodeForBothImplementations) {
  Fixture f;
  at::manual_seed(1);
  const int64_t N = f.batch.num_nodes, H = 3, F = 4;
  at::Tensor x = at::randn({N, H, F});
  at::Tensor ss = at::randn({N, H}), sd = at::randn({N, H});
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    AttentionResult r = gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl);
    at::Tensor sums = at::zeros({N, H}).index_add(0, f.batch.dst, r.alpha);
    EXPECT_TRUE(at::allclose(sums, at::ones({N, H}), 1e-5, 1e-6)) << sums;
    EXPECT_TRUE((r.alpha >= 0).all().item<bool>());
  }
}

TEST(GatAttention, FusedMatchesReferenceForwardAndBackwardWithDropoutMask) {
  Fixture f;
  at::manual_seed(2);
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 2, F = 5;
  at::Tensor x0 = at::randn({N, H, F}, at::kDouble), ss0 = at::randn({N, H}, at::kDouble),
             sd0 = at::randn({N, H}, at::kDouble);
  at::Tensor mask = at::bernoulli(at::full({E, H}, 0.7, at::kDouble)) / 0.7;
  at::Tensor w = at::randn({N, H, F}, at::kDouble);
  std::vector<at::Tensor> grads[2];
  at::Tensor outs[2];
  int k = 0;
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    at::Tensor x = x0.clone().requires_grad_(), ss = ss0.clone().requires_grad_(),
               sd = sd0.clone().requires_grad_();
    AttentionResult r = gatAttention(x, ss, sd, f.batch, 0.2, mask, impl);
    (r.out * w).sum().backward();
    outs[k] = r.out.detach();
    grads[k] = {x.grad(), ss.grad(), sd.grad()};
    ++k;
  }
  EXPECT_TRUE(at::allclose(outs[0], outs[1], 1e-10, 1e-12));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(at::allclose(grads[0][i], grads[1][i], 1e-9, 1e-11)) << "grad " << i;
}

// Central finite differences against the fused kernel's analytic gradient.
TEST(GatAttention, FusedGradientMatchesFiniteDifferences) {
  Fixture f;
  at::manual_seed(3);
  const int64_t N = f.batch.num_nodes, H = 2, F = 3;
  at::Tensor x = at::randn({N, H, F}, at::kDouble).requires_grad_();
  at::Tensor ss = at::randn({N, H}, at::kDouble).requires_grad_();
  at::Tensor sd = at::randn({N, H}, at::kDouble).requires_grad_();
  at::Tensor w = at::randn({N, H, F}, at::kDouble);
  auto loss = [&](const at::Tensor& a, const at::Tensor& b, const at::Tensor& c) {
    return (gatAttention(a, b, c, f.batch, 0.2, at::Tensor(), AttentionImpl::kFused).out * w).sum();
  };
  loss(x, ss, sd).backward();
  const double eps = 1e-6;
  std::vector<at::Tensor> inputs{x, ss, sd};
  for (size_t which = 0; which < inputs.size(); ++which) {
    at::Tensor analytic = inputs[which].grad().reshape(-1);
    at::Tensor flat = inputs[which].detach().reshape(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      auto perturbed = [&](double delta) {
        std::vector<at::Tensor> in{x.detach().clone(), ss.detach().clone(), sd.detach().clone()};
        in[which].view(-1)[i] += delta;
        return loss(in[0], in[1], in[2]).item<double>();
      };
      const double numeric = (perturbed(eps) - perturbed(-eps)) / (2 * eps);
      EXPECT_NEAR(analytic[i].item<double>(), numeric, 1e-6) << "input " << which << " element " << i;
    }
  }
}

TEST(GATLayer, OutputShapeAndAttentionRowsSumToOne) {
  Fixture f;
  GATLayerOptions o;
  o.in_dim = 8;
  o.heads = 4;
  o.head_dim = 6;
  auto layer = std::make_shared<GATLayer>(o);
  layer->eval();
  at::Tensor h = at::randn({f.batch.num_nodes, 8});
  at::Tensor out = layer->forward(h, f.batch);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{f.batch.num_nodes, 24}));
  at::Tensor sums = at::zeros({f.batch.num_nodes, 4}).index_add(0, f.batch.dst, layer->lastAttention());
  EXPECT_TRUE(at::allclose(sums, at::ones_like(sums), 1e-5, 1e-6));
}

}  // namespace
}  // namespace autoglm::core::model
