#include "core/model/gat_attention.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <iostream>
#include <set>
#include <string>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/graph/graph_types.h"
#include "core/model/gat_layer.h"
#include "core/model/graph_classifier.h"

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

// Central finite differences against the fused kernel's analytic gradient, for
// every input; with an edge bias (and a dropout mask) when `relational`.
void checkFiniteDifferences(bool relational, uint64_t seed) {
  Fixture f;
  at::manual_seed(seed);
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 2, F = 3;
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  std::vector<at::Tensor> inputs{at::randn({N, H, F}, opt), at::randn({N, H}, opt), at::randn({N, H}, opt)};
  if (relational) inputs.push_back(at::randn({E, H}, opt));
  for (auto& t : inputs) t.requires_grad_();
  const at::Tensor mask = relational ? at::bernoulli(at::full({E, H}, 0.8, opt)) / 0.8 : at::Tensor();
  const at::Tensor w = at::randn({N, H, F}, opt);
  auto loss = [&](const std::vector<at::Tensor>& in) {
    const at::Tensor eb = in.size() > 3 ? in[3] : at::Tensor();
    return (gatAttention(in[0], in[1], in[2], f.batch, 0.2, mask, AttentionImpl::kFused, eb).out * w).sum();
  };
  loss(inputs).backward();
  const double eps = 1e-6;
  for (size_t which = 0; which < inputs.size(); ++which) {
    at::Tensor analytic = inputs[which].grad().reshape(-1);
    for (int64_t i = 0; i < inputs[which].numel(); ++i) {
      auto perturbed = [&](double delta) {
        std::vector<at::Tensor> in;
        for (const auto& t : inputs) in.push_back(t.detach().clone());
        in[which].view(-1)[i] += delta;
        return loss(in).item<double>();
      };
      const double numeric = (perturbed(eps) - perturbed(-eps)) / (2 * eps);
      EXPECT_NEAR(analytic[i].item<double>(), numeric, 1e-6) << "input " << which << " element " << i;
    }
  }
}

TEST(GatAttention, FusedGradientMatchesFiniteDifferences) { checkFiniteDifferences(false, 3); }

TEST(GatAttention, FusedGradientMatchesFiniteDifferencesWithEdgeBiasAndMask) { checkFiniteDifferences(true, 4); }

// Fused against reference with an edge bias: out, alpha and the gradients of
// x, s_src, s_dst and edge_bias, per dtype, with and without a dropout mask.
void checkFusedAgainstReferenceWithEdgeBias(at::ScalarType dtype, bool with_mask) {
  Fixture f;
  at::manual_seed(5);
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 3, F = 4;
  const auto opt = at::TensorOptions().dtype(dtype);
  const std::vector<at::Tensor> in0{at::randn({N, H, F}, opt), at::randn({N, H}, opt), at::randn({N, H}, opt),
                                    at::randn({E, H}, opt)};
  const at::Tensor mask = with_mask ? at::bernoulli(at::full({E, H}, 0.7, opt)) / 0.7 : at::Tensor();
  const at::Tensor w = at::randn({N, H, F}, opt);
  std::vector<at::Tensor> got[2];  // out, alpha, then the four gradients
  int k = 0;
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    std::vector<at::Tensor> in;
    for (const auto& t : in0) in.push_back(t.clone().requires_grad_());
    AttentionResult r = gatAttention(in[0], in[1], in[2], f.batch, 0.2, mask, impl, in[3]);
    (r.out * w).sum().backward();
    got[k] = {r.out.detach(), r.alpha.detach()};
    for (const auto& t : in) got[k].push_back(t.grad());
    ++k;
  }
  const bool dbl = dtype == at::kDouble;
  const double rtol = dbl ? 1e-10 : 1e-5, atol = dbl ? 1e-12 : 1e-5;
  const char* names[] = {"out", "alpha", "grad x", "grad s_src", "grad s_dst", "grad edge_bias"};
  for (size_t i = 0; i < got[0].size(); ++i) {
    ASSERT_TRUE(got[0][i].defined() && got[1][i].defined()) << names[i];
    const double diff = (got[0][i] - got[1][i]).abs().max().item<double>();
    std::cout << "[fused vs reference] " << at::toString(dtype) << (with_mask ? " mask " : " no mask ") << names[i]
              << " max abs diff " << diff << "\n";
    EXPECT_TRUE(at::allclose(got[0][i], got[1][i], rtol, atol)) << names[i] << " max abs diff " << diff;
  }
}

TEST(GatAttention, FusedMatchesReferenceWithEdgeBiasDouble) {
  checkFusedAgainstReferenceWithEdgeBias(at::kDouble, false);
  checkFusedAgainstReferenceWithEdgeBias(at::kDouble, true);
}

TEST(GatAttention, FusedMatchesReferenceWithEdgeBiasFloat) {
  checkFusedAgainstReferenceWithEdgeBias(at::kFloat, false);
  checkFusedAgainstReferenceWithEdgeBias(at::kFloat, true);
}

TEST(GatAttention, ZeroEdgeBiasIsNoEdgeBias) {
  Fixture f;
  at::manual_seed(6);
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 2, F = 3;
  at::Tensor x = at::randn({N, H, F}), ss = at::randn({N, H}), sd = at::randn({N, H});
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    AttentionResult a = gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl);
    AttentionResult b = gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl, at::zeros({E, H}));
    EXPECT_TRUE(at::equal(a.out, b.out));
    EXPECT_TRUE(at::equal(a.alpha, b.alpha));
  }
}

// A large bias on one incoming edge of a node (one head) takes all of that
// node's attention in that head, and leaves the other head as it was.
TEST(GatAttention, LargeEdgeBiasPutsTheAttentionOnThatEdge) {
  Fixture f;
  at::manual_seed(7);
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 2, F = 3;
  const auto in_ptr = f.batch.in_ptr.accessor<int64_t, 1>();
  int64_t v = 0;
  while (in_ptr[v + 1] - in_ptr[v] < 3) ++v;  // a node with at least three incoming edges
  const int64_t e0 = in_ptr[v], e1 = in_ptr[v + 1], target = e0 + 1;
  at::Tensor x = at::randn({N, H, F}), ss = at::randn({N, H}), sd = at::randn({N, H});
  at::Tensor eb = at::zeros({E, H});
  eb[target][0] = 60.0;
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    AttentionResult plain = gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl);
    AttentionResult r = gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl, eb);
    for (int64_t e = e0; e < e1; ++e) {
      EXPECT_NEAR(r.alpha[e][0].item<float>(), e == target ? 1.0f : 0.0f, 1e-6) << "edge " << e;
    }
    EXPECT_TRUE(at::allclose(r.out[v][0], x[f.batch.src[target].item<int64_t>()][0], 1e-5, 1e-6));
    EXPECT_TRUE(at::equal(r.alpha.select(1, 1), plain.alpha.select(1, 1)));
  }
}

TEST(GatAttention, EdgeBiasOfTheWrongShapeIsRejected) {
  Fixture f;
  const int64_t N = f.batch.num_nodes, E = f.batch.num_edges, H = 2, F = 3;
  at::Tensor x = at::randn({N, H, F}), ss = at::randn({N, H}), sd = at::randn({N, H});
  for (auto impl : {AttentionImpl::kFused, AttentionImpl::kReference}) {
    EXPECT_THROW(gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl, at::zeros({E + 1, H})), Error);
    EXPECT_THROW(gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl, at::zeros({E, H + 1})), Error);
    EXPECT_THROW(gatAttention(x, ss, sd, f.batch, 0.2, at::Tensor(), impl, at::zeros({E, H}, at::kDouble)), Error);
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


GATLayerOptions relationalOptions(int64_t edge_types) {
  GATLayerOptions o;
  o.in_dim = 8;
  o.heads = 3;
  o.head_dim = 4;
  o.edge_types = edge_types;
  return o;
}

std::set<std::string> parameterNames(const torch::nn::Module& m) {
  std::set<std::string> names;
  for (const auto& item : m.named_parameters()) names.insert(item.key());
  return names;
}

TEST(GATLayerRelational, PlainLayerHasNoEdgeParameterAndRelationalOneHasItAtZero) {
  auto plain = std::make_shared<GATLayer>(relationalOptions(0));
  EXPECT_EQ(parameterNames(*plain), (std::set<std::string>{"proj.weight", "att_src", "att_dst", "bias", "res_proj.weight"}));
  EXPECT_FALSE(plain->attEdge().defined());
  auto rel = std::make_shared<GATLayer>(relationalOptions(5));
  EXPECT_EQ(parameterNames(*rel),
            (std::set<std::string>{"proj.weight", "att_src", "att_dst", "bias", "res_proj.weight", "att_edge"}));
  const at::Tensor att_edge = rel->named_parameters()["att_edge"];
  EXPECT_EQ(att_edge.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(at::equal(att_edge, at::zeros({5, 3})));
}

// att_edge starts at zero and draws nothing: at one seed the relation-aware
// block is the plain block, parameter for parameter and output for output.
TEST(GATLayerRelational, StartsAsThePlainLayerAtTheSameSeed) {
  Fixture f;
  f.batch.edge_type = at::randint(0, 5, {f.batch.num_edges}, at::kLong);
  at::manual_seed(8);
  auto plain = std::make_shared<GATLayer>(relationalOptions(0));
  at::manual_seed(8);
  auto rel = std::make_shared<GATLayer>(relationalOptions(5));
  plain->eval();
  rel->eval();
  for (const auto& item : plain->named_parameters()) {
    EXPECT_TRUE(at::equal(item.value(), rel->named_parameters()[item.key()])) << item.key();
  }
  const at::Tensor h = at::randn({f.batch.num_nodes, 8});
  EXPECT_TRUE(at::allclose(plain->forward(h, f.batch), rel->forward(h, f.batch), 1e-6, 1e-7));
}

TEST(GATLayerRelational, EdgeTypesChangeTheOutputAndAttEdgeLearns) {
  Fixture f;
  at::manual_seed(9);
  const int64_t T = 5, E = f.batch.num_edges;
  auto layer = std::make_shared<GATLayer>(relationalOptions(T));
  layer->eval();
  const at::Tensor h = at::randn({f.batch.num_nodes, 8});
  // From zero, att_edge gets a gradient; rows of types absent from the batch get none.
  GraphBatch a = f.batch;
  a.edge_type = at::randint(0, T - 1, {E}, at::kLong);  // type T-1 absent
  layer->forward(h, a).pow(2).sum().backward();
  const at::Tensor grad = layer->attEdge().grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.narrow(0, 0, T - 1).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(at::equal(grad[T - 1], at::zeros({3})));
  // Once att_edge is not zero, batches that differ only in edge types differ in output.
  {
    torch::NoGradGuard no_grad;
    layer->attEdge().normal_(0.0, 1.0);
  }
  GraphBatch b = a;
  b.edge_type = (a.edge_type + 1) % T;
  const at::Tensor oa = layer->forward(h, a);
  const at::Tensor alpha_a = layer->lastAttention().clone();
  const at::Tensor ob = layer->forward(h, b);
  EXPECT_GT((oa - ob).abs().max().item<float>(), 1e-3f);
  EXPECT_GT((alpha_a - layer->lastAttention()).abs().max().item<float>(), 1e-3f);
}

TEST(GATLayerRelational, MissingOrOutOfRangeEdgeTypesAreDataErrors) {
  Fixture f;
  auto layer = std::make_shared<GATLayer>(relationalOptions(4));
  const at::Tensor h = at::randn({f.batch.num_nodes, 8});
  GraphBatch g = f.batch;
  g.edge_type = at::Tensor();
  EXPECT_THROW(layer->forward(h, g), DataError);
  g.edge_type = at::full({f.batch.num_edges}, 4, at::kLong);
  EXPECT_THROW(layer->forward(h, g), DataError);
  g.edge_type = at::zeros({f.batch.num_edges + 1}, at::kLong);
  EXPECT_THROW(layer->forward(h, g), DataError);
  // A plain layer ignores edge types altogether.
  auto plain = std::make_shared<GATLayer>(relationalOptions(0));
  g.edge_type = at::Tensor();
  EXPECT_NO_THROW(plain->forward(h, g));
}

TEST(GATLayerRelational, RelationAwareModelBuildsBlocksOverAllEdgeTypes) {
  ModelConfig cfg;
  cfg.embed_dim = 8;
  cfg.layers = 2;
  cfg.heads = 2;
  cfg.head_dim = 4;
  for (bool relational : {false, true}) {
    cfg.relation_aware = relational;
    GraphClassifierImpl model(cfg, 20, 3);
    for (const char* block : {"block0", "block1"}) {
      auto gat = model.partAs<GATLayer>(block);
      ASSERT_TRUE(gat) << block;
      EXPECT_EQ(gat->options().edge_types, relational ? graph::kNumEdgeTypes : 0);
      EXPECT_EQ(gat->attEdge().defined(), relational);
      if (relational) {
        EXPECT_EQ(gat->attEdge().sizes(), (std::vector<int64_t>{graph::kNumEdgeTypes, 2}));
      }
    }
  }
}

}  // namespace
}  // namespace autoglm::core::model
