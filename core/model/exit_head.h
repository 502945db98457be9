#pragma once
// An early exit (the model part "exitK", after block K when model.early_exit
// is set): a side branch that classifies the node states of block K with its
// own readout and head. In the forward chain it passes the states on
// unchanged; classify() gives its logits. Trained jointly with the final head
// (trainer/tasks/graph_classification/step_runner.cc weighs the exits' losses); at inference a graph
// leaves at the first exit confident enough (GraphClassifierImpl::forwardEarlyExit).

#include <cstdint>
#include <memory>

#include "core/model/classifier_head.h"
#include "core/model/model_config.h"
#include "core/model/model_part.h"
#include "core/model/readout.h"

namespace autoglm::core::model {

class ExitHead final : public ModelPart {
 public:
  ExitHead(ReadoutKind readout, int64_t dim, int64_t hidden, int64_t num_classes, double dropout);
  // The node states, unchanged.
  at::Tensor forward(const at::Tensor& h, const graph::GraphBatch& /*g*/) override { return h; }
  // Class logits [B, C] from the node states [N, dim].
  at::Tensor classify(const at::Tensor& h, const graph::GraphBatch& g);

 private:
  std::shared_ptr<Readout> readout_;
  std::shared_ptr<ClassifierHead> head_;
};

}  // namespace autoglm::core::model
