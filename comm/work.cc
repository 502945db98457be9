#include "comm/work.h"

#include "core/error.h"

namespace autoglm::comm {

const char* toString(OpType op) {
  switch (op) {
    case OpType::kAllreduce: return "ALLREDUCE";
    case OpType::kAllgather: return "ALLGATHER";
    case OpType::kAllgatherv: return "ALLGATHERV";
    case OpType::kReduceScatter: return "REDUCE_SCATTER";
    case OpType::kBroadcast: return "BROADCAST";
    case OpType::kSend: return "SEND";
    case OpType::kRecv: return "RECV";
    case OpType::kBarrier: return "BARRIER";
    case OpType::kSplit: return "SPLIT";
  }
  return "UNKNOWN";
}

Work::Work(WorkInfo info) : info_(std::move(info)) {}

bool Work::isCompleted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

bool Work::isSuccess() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_ && !error_;
}

std::exception_ptr Work::exception() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Work::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return done_; })) {
    lock.unlock();
    throwTimeout(timeout);
  }
  if (error_) std::rethrow_exception(error_);
}

const std::vector<at::Tensor>& Work::result() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!done_ || error_) {
    throw CommError(detail::concat("[Rank ", info_.rank, "] result() of ", describe(),
                                   done_ ? " which failed" : " before it completed; call wait() first"));
  }
  return result_;
}

std::string Work::describe() const {
  std::string backend = info_.backend == "nccl" ? "Nccl" : info_.backend == "mpi" ? "Mpi" : info_.backend;
  return detail::concat(backend, "Work(SeqNum=", info_.seq, ", OpType=", toString(info_.op),
                        ", Group=", info_.group, ", Numel=", info_.numel,
                        ", Dtype=", info_.dtype.empty() ? "-" : info_.dtype,
                        ", Timeout(ms)=", info_.timeout.count(), ")");
}

void Work::finish(std::vector<at::Tensor> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = std::move(result);
    done_ = true;
  }
  cv_.notify_all();
}

void Work::fail(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(error);
    done_ = true;
  }
  cv_.notify_all();
}

void Work::throwTimeout(std::chrono::milliseconds waited) const {
  throw CommError(detail::concat("[Rank ", info_.rank, "] Timed out waiting for ", describe(),
                                 ": not completed after ", waited.count(),
                                 " ms (the operation keeps running; the communicator should be aborted)"));
}

}  // namespace autoglm::comm
