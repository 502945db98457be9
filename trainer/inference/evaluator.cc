#include "trainer/inference/evaluator.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>

#include "core/graph/graph_batch.h"

namespace autoglm::trainer {

Evaluator::Evaluator(core::model::GraphClassifier model, int64_t batch_graphs, comm::Communicator* group,
                     parallel::pipeline::StageLink* link)
    : model_(std::move(model)), batch_graphs_(batch_graphs), group_(group), link_(link) {}

EvalResult Evaluator::evaluate(const core::graph::GraphStore& store, const std::vector<int64_t>& indices) {
  EvalResult r;
  if (indices.empty()) return r;
  model_->eval();
  at::NoGradGuard no_grad;
  const int rank = group_ != nullptr ? group_->rank() : 0;
  const int world = group_ != nullptr ? group_->size() : 1;
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(rank); i < indices.size(); i += static_cast<size_t>(world)) {
    mine.push_back(indices[i]);
  }
  double loss_sum = 0.0;
  int64_t correct = 0, blocks = 0, node_blocks = 0, nodes = 0;
  const core::graph::BatchLimits limits{batch_graphs_, 0};
  for (const auto& b : core::graph::planBatches(mine, [&](int64_t i) { return store.numNodes(i); }, limits)) {
    std::vector<core::graph::GraphView> views;
    views.reserve(b.size());
    for (int64_t i : b) views.push_back(store.graph(i));
    const core::graph::GraphBatch batch = core::graph::collate(views);
    if (link_ == nullptr) {
      const auto out = model_->forwardEarlyExit(batch, exit_threshold_);
      loss_sum += at::cross_entropy_loss(out.logits, batch.labels, {}, at::Reduction::Sum).item<double>();
      correct += out.logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
      const at::Tensor sizes = batch.graph_ptr.slice(0, 1) - batch.graph_ptr.slice(0, 0, -1);
      blocks += out.exit_block.sum().item<int64_t>();
      node_blocks += (out.exit_block * sizes).sum().item<int64_t>();
      nodes += batch.num_nodes;
      continue;
    }
    const at::Tensor x = link_->first() ? model_->forward(batch) : model_->forward(link_->recvActivation(batch), batch);
    if (!link_->last()) {
      link_->sendActivation(x);
      continue;
    }
    loss_sum += at::cross_entropy_loss(x, batch.labels, {}, at::Reduction::Sum).item<double>();
    correct += x.argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  if (link_ != nullptr) {  // the last stage scored; every stage learns the result
    link_->finish();
    at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
    at::Tensor c = at::tensor({correct}, at::TensorOptions().dtype(at::kLong));
    const int last = link_->group().size() - 1;
    link_->group().broadcast(l, {last})->wait();
    link_->group().broadcast(c, {last})->wait();
    loss_sum = l.item<float>();
    correct = c.item<int64_t>();
  }
  if (world > 1) {
    // float32 for the loss (the communicator reduces no float64), int64 for counts.
    at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
    at::Tensor c = at::tensor({correct}, at::TensorOptions().dtype(at::kLong));
    group_->allreduce(l, {comm::ReduceOp::kSum})->wait();
    group_->allreduce(c, {comm::ReduceOp::kSum})->wait();
    loss_sum = l.item<double>();
    correct = c.item<int64_t>();
  }
  if (link_ == nullptr) {
    at::Tensor work = at::tensor({blocks, node_blocks, nodes}, at::TensorOptions().dtype(at::kLong));
    if (world > 1) group_->allreduce(work, {comm::ReduceOp::kSum})->wait();
    const double layers = static_cast<double>(model_->config().layers);
    r.mean_blocks = static_cast<double>(work[0].item<int64_t>()) / static_cast<double>(indices.size());
    r.node_block_fraction = static_cast<double>(work[1].item<int64_t>()) /
                            std::max(1.0, layers * static_cast<double>(work[2].item<int64_t>()));
  } else {
    r.mean_blocks = static_cast<double>(model_->config().layers);
  }
  r.count = static_cast<int64_t>(indices.size());
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  return r;
}

Classified Evaluator::classify(const std::vector<core::graph::GraphView>& graphs) {
  model_->eval();
  at::NoGradGuard no_grad;
  auto out = model_->forwardEarlyExit(core::graph::collate(graphs), exit_threshold_);
  return {at::softmax(out.logits, 1), out.exit_block};
}

}  // namespace autoglm::trainer
