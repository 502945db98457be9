#pragma once
// One pipeline stage's connections to its neighbours: activations to the next
// stage and gradients back. Every stage derives the same micro-batches from the
// sampler and collates them itself, so a receive knows its shape (rows: the
// batch's nodes, or its graphs after the readout; columns: the width of the
// previous stage's last part, as the model declares it: PartOutput) and no
// header travels.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/graph_batch.h"
#include "core/model/model_part.h"

namespace autoglm::parallel::pipeline {

class StageLink {
 public:
  // in: what the previous stage's last part outputs (ignored on the first
  // stage); out: what this stage's last part outputs.
  StageLink(std::shared_ptr<comm::Communicator> pp, core::model::PartOutput in, core::model::PartOutput out);
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
  at::Tensor recv(int peer, const core::model::PartOutput& shape, const core::graph::GraphBatch& g);
  void send(int peer, const at::Tensor& t);

  std::shared_ptr<comm::Communicator> pp_;
  core::model::PartOutput in_, out_;
  std::vector<std::shared_ptr<comm::Work>> sends_;
};

}  // namespace autoglm::parallel::pipeline
