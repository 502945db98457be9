#include "core/model/exit_head.h"

namespace autoglm::core::model {

ExitHead::ExitHead(ReadoutKind readout, int64_t dim, int64_t hidden, int64_t num_classes, double dropout) {
  readout_ = register_module("readout", std::make_shared<Readout>(readout, dim));
  head_ = register_module("head", std::make_shared<ClassifierHead>(readout_->outDim(), hidden, num_classes, dropout));
}

at::Tensor ExitHead::classify(const at::Tensor& h, const graph::GraphBatch& g) {
  return head_->forward(readout_->forward(h, g), g);
}

}  // namespace autoglm::core::model
