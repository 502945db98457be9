#pragma once
// What one NCCL communicator and its operations share.
//
// CommState: the NCCL communicator handle and whether it was aborted. The first
// failure (an NCCL error, an asynchronous error seen while waiting, a timeout)
// aborts it, once; from then on every operation throws naming the reason, and
// the communicator is never destroyed after the abort (ncclCommAbort frees it).
//
// OpEvent: the completion event of one operation, recorded on the
// communicator's stream after the NCCL call. Every entry point selects the
// communicator's device before touching CUDA.
//
// NcclWork::wait(timeout) first makes the caller's stream wait on the event
// (so later device work on it sees the result), then blocks the host until the
// event fired, polling it and the communicator's asynchronous error; on an
// error or at the timeout it aborts the communicator and throws CommError.
// synchronizeStream() only orders the caller's stream and does not block the
// host. The tensors an operation reads and writes stay alive until its event
// fired: the communicator keeps them in its in-flight list whether or not the
// caller still holds the Work.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/nccl/device_api.h"
#include "comm/work.h"

namespace autoglm::comm::nccl {

class CommState {
 public:
  CommState(std::shared_ptr<DeviceApi> api, CommHandle comm, int device);
  ~CommState();  // destroys the communicator unless it was aborted
  CommState(const CommState&) = delete;
  CommState& operator=(const CommState&) = delete;

  DeviceApi& api() const { return *api_; }
  CommHandle handle() const { return comm_; }
  int device() const { return device_; }
  void selectDevice() const { api_->setDevice(device_); }

  // ncclCommAbort once; later calls keep the first reason.
  void abort(const std::string& reason);
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }
  std::string reason() const;

 private:
  std::shared_ptr<DeviceApi> api_;
  CommHandle comm_;
  int device_;
  std::atomic<bool> aborted_{false};
  mutable std::mutex mu_;
  std::string reason_;
};

class OpEvent {
 public:
  // Records a new event on `stream` (the communicator's).
  OpEvent(std::shared_ptr<CommState> state, StreamHandle stream);
  ~OpEvent();
  OpEvent(const OpEvent&) = delete;
  OpEvent& operator=(const OpEvent&) = delete;

  EventState query(std::string* error) const;
  EventHandle handle() const { return event_; }

 private:
  std::shared_ptr<CommState> state_;
  EventHandle event_ = nullptr;
};

class NcclWork final : public Work {
 public:
  NcclWork(WorkInfo info, std::shared_ptr<CommState> state, std::shared_ptr<OpEvent> event,
           std::vector<at::Tensor> result);
  bool isCompleted() const override;
  void wait(std::chrono::milliseconds timeout) override;
  // The caller's stream waits for this operation; the host is not blocked.
  void synchronizeStream() const;

 private:
  std::shared_ptr<CommState> state_;
  std::shared_ptr<OpEvent> event_;
};

}  // namespace autoglm::comm::nccl
