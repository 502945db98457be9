#pragma once
// One pipeline stage's connections to its neighbours: activations to the next
// stage and gradients back. Every stage derives the same micro-batches from the
// sampler and collates them itself, so a receive knows its shape (rows: the
// batch's nodes, or its graphs after the readout; columns: the feature width
// of the last part of the previous stage) and no header travels.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/graph_batch.h"
#include "core/model/model_config.h"

namespace autoglm::trainer {

// What part `index` of the model (embed, block0, ..., readout, head) outputs.
struct ActivationShape {
  bool per_graph = false;  // rows are graphs (readout, head), else nodes
  int64_t dim = 0;
  int64_t rows(const core::graph::GraphBatch& g) const { return per_graph ? g.num_graphs : g.num_nodes; }
};
ActivationShape partOutput(const core::model::ModelConfig& cfg, int64_t num_classes, size_t index);

class StageLink {
 public:
  // first_part: this stage's first part; last_part: its last (inclusive).
  StageLink(std::shared_ptr<comm::Communicator> pp, const core::model::ModelConfig& cfg, int64_t num_classes,
            size_t first_part, size_t last_part);
  ~StageLink();

  bool first() const { return pp_->rank() == 0; }
  bool last() const { return pp_->rank() == pp_->size() - 1; }
  // Blocking receives, nonblocking sends (waited for by finish()).
  at::Tensor recvActivation(const core::graph::GraphBatch& g);
  void sendActivation(const at::Tensor& t);
  at::Tensor recvGrad(const core::graph::GraphBatch& g);
  void sendGrad(const at::Tensor& t);
  void finish();
  comm::Communicator& group() { return *pp_; }

 private:
  at::Tensor recv(int peer, const ActivationShape& shape, const core::graph::GraphBatch& g);
  void send(int peer, const at::Tensor& t);

  std::shared_ptr<comm::Communicator> pp_;
  ActivationShape in_, out_;
  std::vector<std::shared_ptr<comm::Work>> sends_;
};

}  // namespace autoglm::trainer
