#include "comm/self_communicator.h"

#include "core/error.h"

namespace autoglm::comm {

std::shared_ptr<Work> SelfCommunicator::done(OpType op, std::vector<at::Tensor> result) const {
  WorkInfo info;
  info.backend = "self";
  info.group = name_;
  info.op = op;
  return std::make_shared<Work>(std::move(info), std::move(result));
}

void SelfCommunicator::noPeer(OpType op, int peer) const {
  throw CommError(autoglm::detail::concat("[", name_, " rank 0 of 1] ", toString(op), " with rank ", peer,
                                 ": a group of one process has no peer"));
}

std::shared_ptr<Work> SelfCommunicator::allreduce(at::Tensor& tensor, const AllreduceOptions&) {
  return done(OpType::kAllreduce, {tensor});
}

std::shared_ptr<Work> SelfCommunicator::allgather(const at::Tensor& input, const AllgatherOptions&) {
  return done(OpType::kAllgather, {input.unsqueeze(0).clone()});
}

std::shared_ptr<Work> SelfCommunicator::allgatherv(const at::Tensor& input, const AllgatherOptions&) {
  return done(OpType::kAllgatherv, {input.clone()});
}

std::shared_ptr<Work> SelfCommunicator::reduceScatter(const at::Tensor& input, const ReduceScatterOptions&) {
  return done(OpType::kReduceScatter, {input.clone()});
}

std::shared_ptr<Work> SelfCommunicator::alltoall(const at::Tensor& input, const AlltoallOptions&) {
  return done(OpType::kAlltoall, {input.clone()});
}

std::shared_ptr<Work> SelfCommunicator::broadcast(at::Tensor& tensor, const BroadcastOptions& opts) {
  if (opts.root != 0) noPeer(OpType::kBroadcast, opts.root);
  return done(OpType::kBroadcast, {tensor});
}

std::shared_ptr<Work> SelfCommunicator::send(const at::Tensor&, int dst, const SendOptions&) {
  noPeer(OpType::kSend, dst);
}

std::shared_ptr<Work> SelfCommunicator::recv(int src, const RecvOptions&) { noPeer(OpType::kRecv, src); }

std::shared_ptr<Work> SelfCommunicator::batchP2P(const std::vector<P2POp>& ops, const P2POptions&) {
  if (!ops.empty()) noPeer(OpType::kBatchP2P, ops.front().peer);
  return done(OpType::kBatchP2P, {});
}

std::shared_ptr<Work> SelfCommunicator::barrier(const BarrierOptions&) { return done(OpType::kBarrier, {}); }

std::shared_ptr<Communicator> SelfCommunicator::split(int, int, const std::string& group_name) {
  return std::make_shared<SelfCommunicator>(group_name);
}

}  // namespace autoglm::comm
