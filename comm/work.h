#pragma once
// Handle to one asynchronous communication operation (c10d Work).
//
// Every operation of a Communicator returns a shared_ptr<Work> right away; the
// operation runs in the background (MPI: on the communicator's communication
// thread; NCCL: on the communicator's CUDA stream).
//
//   auto w = comm.allreduce(grad, {});
//   ...compute...
//   w->wait();            // MPI: blocks the host until the data is reduced
//                         // NCCL: see nccl::NcclWork (orders the caller's stream)
//
// wait() rethrows the operation's failure (kept as std::exception_ptr). If the
// timeout expires first, wait() throws CommError naming rank, op, sequence number
// and timeout; the operation itself is not cancelled (MPI cannot cancel a
// collective), so after a timeout the communicator should be considered broken.

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

namespace autoglm::comm {

enum class OpType {
  kAllreduce, kAllgather, kAllgatherv, kReduceScatter, kAlltoall, kBroadcast, kSend, kRecv, kBatchP2P, kBarrier, kSplit
};

const char* toString(OpType op);

// What a Work was created for: used in every error message about it.
// Built for every operation, so the fixed texts are static strings, not copies.
struct WorkInfo {
  const char* backend = "";  // "mpi", "nccl": a string with static storage duration
  std::string group;         // "world", "tp", ...
  int rank = 0;              // rank in `group`
  OpType op = OpType::kBarrier;
  uint64_t seq = 0;          // 1-based, per communicator, equal on all ranks for one collective
  int64_t numel = 0;
  int64_t bytes = 0;         // of the tensor named by numel and dtype
  const char* dtype = "";    // c10::toString of the dtype; "" when there is no tensor
  std::chrono::milliseconds timeout{0};
  int peer = -1;             // send, recv: the other end (rank in `group`); -1 otherwise
};

class Work {
 public:
  explicit Work(WorkInfo info);
  // A Work that completed successfully when it was created (an operation the
  // backend ran on the caller's thread): no locking, wait() returns at once.
  Work(WorkInfo info, std::vector<at::Tensor> result);
  virtual ~Work() = default;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  // True once the operation finished, successfully or not. Never blocks.
  virtual bool isCompleted() const;
  // True once finished without error.
  bool isSuccess() const;
  // The failure, or nullptr.
  std::exception_ptr exception() const;

  // Blocks the calling host thread until the operation completes or `timeout`
  // expires (CommError). Rethrows the operation's failure.
  virtual void wait(std::chrono::milliseconds timeout);
  // Same with the timeout from the operation's options.
  void wait() { wait(info_.timeout); }

  // Output tensors, valid after a successful wait(): allreduce/broadcast: the
  // tensor reduced in place; allgather: one tensor [world, ...input shape];
  // allgatherv: one tensor per rank; reduceScatter: this rank's slice;
  // alltoall: one tensor of the input's shape, row block j from rank j;
  // recv: the received tensor; send/barrier: empty.
  const std::vector<at::Tensor>& result() const;

  const WorkInfo& info() const { return info_; }
  // "MpiWork(SeqNum=3, OpType=ALLREDUCE, Group=world, Numel=10, Dtype=Float)".
  std::string describe() const;

  // Called by the backend, exactly once.
  void finish(std::vector<at::Tensor> result);
  void fail(std::exception_ptr error);

 protected:
  [[noreturn]] void throwTimeout(std::chrono::milliseconds waited) const;

  WorkInfo info_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Written under mu_ after error_ and result_ (release), read without it
  // (acquire): wait() on a completed Work takes no lock.
  std::atomic<bool> done_{false};
  std::exception_ptr error_;
  std::vector<at::Tensor> result_;
};

}  // namespace autoglm::comm
