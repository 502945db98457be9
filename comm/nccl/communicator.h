#pragma once
// NCCL backend for CUDA tensors.
//
// Bootstrap: rank 0 creates the NCCL unique id and broadcasts it over the MPI
// world communicator. Every operation runs on the communicator's own CUDA stream:
// the stream first waits on an event recorded on the caller's stream (the CUDA
// legacy default stream, which LibTorch uses unless a stream guard is set), then
// the NCCL call, then a completion event. No host synchronisation is issued.
//
// NcclWork::wait(timeout) makes the caller's stream wait on the completion event
// and then blocks the host, polling the event and ncclCommGetAsyncError, until
// completion (or aborts the communicator and throws CommError on error/timeout).
// NcclWork::synchronizeStream() only orders the caller's stream.
//
// The tensor shape of recv() travels over MPI: recv() blocks the host until the
// header arrived; the payload moves asynchronously on the stream.

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <memory>
#include <string>

#include "comm/comm_config.h"
#include "comm/communicator.h"

namespace autoglm::comm::mpi {
class MpiCommunicator;
}

namespace autoglm::comm::nccl {

class NcclWork final : public Work {
 public:
  NcclWork(WorkInfo info, ncclComm_t comm, cudaStream_t comm_stream, std::vector<at::Tensor> result);
  ~NcclWork() override;
  bool isCompleted() const override;
  void wait(std::chrono::milliseconds timeout) override;
  // Caller's (legacy default) stream waits for this operation; host not blocked.
  void synchronizeStream() const;

 private:
  ncclComm_t comm_;
  cudaEvent_t done_event_ = nullptr;
};

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap`: all its ranks join. Picks the device with
  // pickDevice(cfg.cuda_device, local rank, device count).
  NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, const CommConfig& cfg,
                   std::string group_name);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& groupName() const override { return group_; }
  std::string backendName() const override { return "nccl"; }

  std::shared_ptr<Work> allreduce(at::Tensor& tensor, const AllreduceOptions& opts) override;
  std::shared_ptr<Work> allgather(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> allgatherv(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> reduceScatter(const at::Tensor& input, const ReduceScatterOptions& opts) override;
  std::shared_ptr<Work> alltoall(const at::Tensor& input, const AlltoallOptions& opts) override;
  std::shared_ptr<Work> broadcast(at::Tensor& tensor, const BroadcastOptions& opts) override;
  std::shared_ptr<Work> send(const at::Tensor& tensor, int dst, const SendOptions& opts) override;
  std::shared_ptr<Work> recv(int src, const RecvOptions& opts) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& opts) override;
  // ncclCommSplit, with the MPI bootstrap communicator split the same way.
  std::shared_ptr<Communicator> split(int color, int key, const std::string& group_name) override;

 private:
  NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, ncclComm_t comm, int device,
                   const CommConfig& cfg, std::string group_name);
  void initStream();
  WorkInfo info(OpType op, const at::Tensor* t, Millis timeout);
  // Orders the comm stream after the caller's stream.
  void enterStream();
  std::shared_ptr<Work> finishOp(WorkInfo info, std::vector<at::Tensor> result);
  void checkCuda(const at::Tensor& t, const char* what) const;

  std::shared_ptr<mpi::MpiCommunicator> mpi_;
  CommConfig cfg_;
  std::string group_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
  uint64_t seq_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_event_ = nullptr;
};

}  // namespace autoglm::comm::nccl
