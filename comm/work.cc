#include "comm/work.h"

#include "core/error.h"

namespace autoglm::comm {

const char* toString(OpType op) {
  switch (op) {
    case OpType::kAllreduce: return "ALLREDUCE";
    case OpType::kAllgather: return "ALLGATHER";
    case OpType::kAllgatherv: return "ALLGATHERV";
    case OpType::kReduceScatter: return "REDUCE_SCATTER";
    case OpType::kAlltoall: return "ALLTOALL";
    case OpType::kBroadcast: return "BROADCAST";
    case OpType::kSend: return "SEND";
    case OpType::kRecv: return "RECV";
    case OpType::kBatchP2P: return "BATCH_P2P";
    case OpType::kBarrier: return "BARRIER";
    case OpType::kSplit: return "SPLIT";
  }
  return "UNKNOWN";
}

Work::Work(WorkInfo info) : info_(std::move(info)) {}

Work::Work(WorkInfo info, std::vector<at::Tensor> result)
    : info_(std::move(info)), done_(true), result_(std::move(result)) {}

bool Work::isCompleted() const { return done_.load(std::memory_order_acquire); }

bool Work::isSuccess() const {
  // error_ is written before done_ and never after.
  return done_.load(std::memory_order_acquire) && !error_;
}

std::exception_ptr Work::exception() const {
  if (done_.load(std::memory_order_acquire)) return error_;
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Work::wait(std::chrono::milliseconds timeout) {
  if (!done_.load(std::memory_order_acquire)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return done_.load(std::memory_order_relaxed); })) {
      lock.unlock();
      throwTimeout(timeout);
    }
  }
  if (error_) std::rethrow_exception(error_);
}

const std::vector<at::Tensor>& Work::result() const {
  const bool done = done_.load(std::memory_order_acquire);
  if (!done || error_) {
    throw CommError(detail::concat("[Rank ", info_.rank, "] result() of ", describe(),
                                   done ? " which failed" : " before it completed; call wait() first"));
  }
  return result_;
}

std::string Work::describe() const {
  const std::string name = info_.backend != nullptr ? info_.backend : "";
  const std::string backend = name == "nccl" ? "Nccl" : name == "mpi" ? "Mpi" : name;
  return detail::concat(backend, "Work(SeqNum=", info_.seq, ", OpType=", toString(info_.op),
                        ", Group=", info_.group, ", Numel=", info_.numel,
                        ", Dtype=", info_.dtype == nullptr || *info_.dtype == '\0' ? "-" : info_.dtype,
                        ", Timeout(ms)=", info_.timeout.count(), ")");
}

void Work::finish(std::vector<at::Tensor> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = std::move(result);
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

void Work::fail(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(error);
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

void Work::throwTimeout(std::chrono::milliseconds waited) const {
  throw CommError(detail::concat("[Rank ", info_.rank, "] Timed out waiting for ", describe(),
                                 ": not completed after ", waited.count(),
                                 " ms (the operation keeps running; the communicator should be aborted)"));
}

}  // namespace autoglm::comm
