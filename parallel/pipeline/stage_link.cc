#include "parallel/pipeline/stage_link.h"

#include <ATen/Functions.h>

#include "core/error.h"

namespace autoglm::parallel::pipeline {

StageLink::StageLink(std::shared_ptr<comm::Communicator> pp, core::model::PartOutput in, core::model::PartOutput out)
    : pp_(std::move(pp)), in_(in), out_(out) {}

StageLink::~StageLink() {
  try {
    finish();
  } catch (...) {
  }
}

at::Tensor StageLink::recv(int peer, const core::model::PartOutput& shape, const core::graph::GraphBatch& g) {
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

}  // namespace autoglm::parallel::pipeline
