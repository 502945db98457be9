#include "trainer/stage_link.h"

#include <ATen/Functions.h>

#include "core/error.h"

namespace autoglm::trainer {

ActivationShape partOutput(const core::model::ModelConfig& cfg, int64_t num_classes, size_t index) {
  const auto layers = static_cast<size_t>(cfg.layers);
  const int64_t block_dim = cfg.heads * cfg.head_dim;
  if (index == 0) return {false, cfg.embed_dim};
  if (index <= layers) return {false, block_dim};
  const int64_t node_dim = cfg.layers > 0 ? block_dim : cfg.embed_dim;
  if (index == layers + 1) return {true, cfg.readout == core::model::ReadoutKind::kMeanMax ? 2 * node_dim : node_dim};
  return {true, num_classes};
}

StageLink::StageLink(std::shared_ptr<comm::Communicator> pp, const core::model::ModelConfig& cfg,
                     int64_t num_classes, size_t first_part, size_t last_part)
    : pp_(std::move(pp)), out_(partOutput(cfg, num_classes, last_part)) {
  if (first_part > 0) in_ = partOutput(cfg, num_classes, first_part - 1);
}

StageLink::~StageLink() {
  try {
    finish();
  } catch (...) {
  }
}

at::Tensor StageLink::recv(int peer, const ActivationShape& shape, const core::graph::GraphBatch& g) {
  at::Tensor t = at::empty({shape.rows(g), shape.dim}, at::TensorOptions().dtype(at::kFloat));
  pp_->batchP2P({{comm::P2POp::Kind::kRecv, t, peer}}, {})->wait();
  return t;
}

void StageLink::send(int peer, const at::Tensor& t) {
  sends_.push_back(pp_->batchP2P({{comm::P2POp::Kind::kSend, t.detach().contiguous(), peer}}, {}));
}

at::Tensor StageLink::recvActivation(const core::graph::GraphBatch& g) {
  AUTOGLM_CHECK(!first(), "the first stage receives no activation");
  return recv(pp_->rank() - 1, in_, g);
}

void StageLink::sendActivation(const at::Tensor& t) {
  AUTOGLM_CHECK(!last(), "the last stage sends no activation");
  send(pp_->rank() + 1, t);
}

at::Tensor StageLink::recvGrad(const core::graph::GraphBatch& g) {
  AUTOGLM_CHECK(!last(), "the last stage receives no gradient");
  return recv(pp_->rank() + 1, out_, g);
}

void StageLink::sendGrad(const at::Tensor& t) {
  AUTOGLM_CHECK(!first(), "the first stage sends no gradient");
  send(pp_->rank() - 1, t);
}

void StageLink::finish() {
  for (auto& w : sends_) w->wait();
  sends_.clear();
}

}  // namespace autoglm::trainer
