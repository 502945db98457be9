#pragma once
// NCCL backend for CUDA tensors.
//
// Bootstrap: rank 0 creates the NCCL unique id and broadcasts it over the MPI
// world communicator. Every operation runs on the communicator's own CUDA stream:
// the stream first waits on an event recorded on the caller's stream (CUDA's
// legacy default stream, which LibTorch uses unless a stream guard is set), then
// the NCCL call, then a completion event (work.h). No host synchronisation is
// issued. Every entry point selects the communicator's device first.
//
// Lifetimes: every tensor an operation reads or writes (the caller's and the
// ones it allocates) stays in the communicator's in-flight list until the
// operation's event fired, whether or not the caller keeps the Work; the list
// is swept at each new operation. The destructor waits up to comm.timeout_ms
// for what is still in flight (then aborts) before releasing it.
//
// wait() on a Work orders the caller's stream and blocks the host (work.h);
// NcclWork::synchronizeStream() only orders the stream.
//
// Point-to-point: send(), recv() and batchP2P() go through ncclGroupStart/End.
// NCCL matches a pair's messages in issue order and has no tags, so a nonzero
// tag is refused with CommError. send()/recv() carry the shape in a header over
// the host communicator (recv() blocks the host until it arrived); batchP2P()
// receives into tensors of known shape and sends no header.
//
// Memory the backend allocates (outputs, receive buffers) comes from
// DeviceApi::empty(), not from LibTorch, which may be a CPU-only build.
//
// Errors: an NCCL error, an asynchronous error or a timeout aborts the
// communicator (once); every later call throws CommError saying it was aborted
// and why, and the destructor does not destroy it again.

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/comm_config.h"
#include "comm/communicator.h"
#include "comm/nccl/device_api.h"
#include "comm/nccl/work.h"

namespace autoglm::comm::mpi {
class MpiCommunicator;
}

namespace autoglm::comm::nccl {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap`: all its ranks join. Picks the device with
  // pickDevice(cfg.cuda_device, local rank, device count).
  NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, const CommConfig& cfg,
                   std::string group_name);
  // Over an NCCL communicator that exists already (split(), tests with a fake
  // DeviceApi). `host` supplies rank and size and carries the shape headers of
  // send/recv/allgatherv and the split of the host side.
  NcclCommunicator(std::shared_ptr<DeviceApi> api, std::shared_ptr<Communicator> host, CommHandle comm, int device,
                   const CommConfig& cfg, std::string group_name);
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
  std::shared_ptr<Work> batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& opts) override;
  // ncclCommSplit, with the host communicator split the same way.
  std::shared_ptr<Communicator> split(int color, int key, const std::string& group_name) override;

  // Makes the communicator unusable: ncclCommAbort, and every later operation
  // throws CommError naming `reason`.
  void abort(const std::string& reason);
  bool aborted() const { return state_->aborted(); }
  int device() const { return state_->device(); }
  // Operations whose tensors are still held (their events had not fired at the
  // last sweep); sweeps first.
  size_t inflight();

 private:
  void initStream();
  WorkInfo info(OpType op, const at::Tensor* t, Millis timeout);
  // Selects the device; throws CommError when the communicator was aborted.
  void begin(const char* what);
  // begin(), sweep, and the comm stream ordered after the caller's.
  void enter(const char* what);
  // Runs `issue` (the NCCL calls), then records the op's event and keeps `keep`
  // alive until it fired. An NCCL error aborts the communicator.
  template <typename Issue>
  std::shared_ptr<Work> launch(const char* what, WorkInfo info, std::vector<at::Tensor> keep,
                               std::vector<at::Tensor> result, Issue&& issue);
  void sweep();
  void checkDeviceTensor(const at::Tensor& t, const char* what) const;
  void checkTagZero(int tag, const char* what) const;
  at::Tensor deviceEmpty(at::IntArrayRef sizes, c10::ScalarType dtype);

  struct Inflight {
    std::shared_ptr<OpEvent> event;
    std::vector<at::Tensor> keep;
  };

  std::shared_ptr<DeviceApi> api_;
  std::shared_ptr<Communicator> host_;
  CommConfig cfg_;
  std::string group_;
  int rank_ = 0;
  int size_ = 1;
  uint64_t seq_ = 0;
  std::shared_ptr<CommState> state_;
  StreamHandle stream_ = nullptr;
  EventHandle ready_event_ = nullptr;
  std::mutex mu_;  // inflight_
  std::deque<Inflight> inflight_;
};

}  // namespace autoglm::comm::nccl
