#include "core/model/readout.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

namespace autoglm::core::model {
namespace {

// Three graphs of 3, 0 and 4 nodes.
graph::GraphBatch threeGraphs() {
  graph::GraphBatch g;
  g.graph_ptr = at::tensor(std::vector<int64_t>{0, 3, 3, 7}, at::TensorOptions().dtype(at::kLong));
  g.node_graph = at::tensor(std::vector<int64_t>{0, 0, 0, 2, 2, 2, 2}, at::TensorOptions().dtype(at::kLong));
  g.num_graphs = 3;
  g.num_nodes = 7;
  return g;
}

TEST(Readout, MaxEqualsScatterReduceForwardAndBackward) {
  const graph::GraphBatch g = threeGraphs();
  at::manual_seed(3);
  const at::Tensor h0 = at::randn({7, 5}), up = at::randn({3, 5});
  at::Tensor h = h0.clone().set_requires_grad(true), r = h0.clone().set_requires_grad(true);
  Readout readout(ReadoutKind::kMax, 5);
  const at::Tensor got = readout.forward(h, g);
  const at::Tensor want = at::zeros({3, 5}).scatter_reduce(0, g.node_graph.unsqueeze(1).expand({7, 5}), r, "amax",
                                                           /*include_self=*/false);
  EXPECT_TRUE(at::equal(got, want));
  EXPECT_TRUE(at::equal(got[1], at::zeros({5}))) << "a graph without nodes pools to zeros";
  (got * up).sum().backward();
  (want * up).sum().backward();
  EXPECT_TRUE(at::allclose(h.grad(), r.grad()));
}

TEST(Readout, MaxSendsATiesGradientToItsFirstNode) {
  const graph::GraphBatch g = threeGraphs();
  at::Tensor h = at::zeros({7, 2});
  h[0][0] = 1.0f;
  h[2][0] = 1.0f;  // tie in graph 0, column 0
  h.set_requires_grad(true);
  Readout readout(ReadoutKind::kMax, 2);
  readout.forward(h, g).sum().backward();
  EXPECT_EQ(h.grad()[0][0].item<float>(), 1.0f);
  EXPECT_EQ(h.grad()[2][0].item<float>(), 0.0f);
  EXPECT_EQ(h.grad().sum().item<float>(), 4.0f) << "one node per (non-empty graph, column)";
}

TEST(Readout, GatedIsMeanAndMaxOfGatedNodeStates) {
  const graph::GraphBatch g = threeGraphs();
  at::manual_seed(4);
  const at::Tensor h = at::randn({7, 3});
  Readout readout(ReadoutKind::kGated, 3);
  EXPECT_EQ(readout.outDim(), 6);
  const at::Tensor got = readout.forward(h, g);
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{3, 6}));
  auto* gate = readout.named_children()["gate"]->as<torch::nn::Linear>();
  auto* value = readout.named_children()["value"]->as<torch::nn::Linear>();
  const at::Tensor x = at::sigmoid(gate->forward(h)) * at::tanh(value->forward(h));
  const at::Tensor g0 = x.slice(0, 0, 3), g2 = x.slice(0, 3, 7);
  EXPECT_TRUE(at::allclose(got[0], at::cat({g0.mean(0), std::get<0>(g0.max(0))})));
  EXPECT_TRUE(at::allclose(got[2], at::cat({g2.mean(0), std::get<0>(g2.max(0))})));
  EXPECT_TRUE(at::equal(got[1], at::zeros({6})));
}

}  // namespace
}  // namespace autoglm::core::model
