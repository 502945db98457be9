#pragma once
// A group of this process alone: what a grid axis of degree 1 is on a single
// process started without MPI (parallel::ParallelGrid::alone()). Every
// collective completes on the caller's thread with the result a group of one
// gives (all-reduce and broadcast leave the tensor as it is, an all-gather
// stacks the one input); point-to-point has no peer and throws CommError.

#include <memory>
#include <string>

#include "comm/communicator.h"

namespace autoglm::comm {

class SelfCommunicator final : public Communicator {
 public:
  explicit SelfCommunicator(std::string group_name = "self") : name_(std::move(group_name)) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  const std::string& groupName() const override { return name_; }
  std::string backendName() const override { return "self"; }

  std::shared_ptr<Work> allreduce(at::Tensor& tensor, const AllreduceOptions& opts) override;
  std::shared_ptr<Work> allgather(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> allgatherv(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> reduceScatter(const at::Tensor& input, const ReduceScatterOptions& opts) override;
  std::shared_ptr<Work> alltoall(const at::Tensor& input, const AlltoallOptions& opts) override;
  std::shared_ptr<Work> broadcast(at::Tensor& tensor, const BroadcastOptions& opts) override;
  std::shared_ptr<Work> send(const at::Tensor& tensor, int dst, const SendOptions& opts) override;
  std::shared_ptr<Work> recv(int src, const RecvOptions& opts) override;
  std::shared_ptr<Work> batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& opts) override;
  std::shared_ptr<Communicator> split(int color, int key, const std::string& group_name) override;

 private:
  std::shared_ptr<Work> done(OpType op, std::vector<at::Tensor> result) const;
  [[noreturn]] void noPeer(OpType op, int peer) const;

  std::string name_;
};

}  // namespace autoglm::comm
