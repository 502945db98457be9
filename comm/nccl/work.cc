#include "comm/nccl/work.h"

#include <thread>

#include "core/error.h"

namespace autoglm::comm::nccl {

using autoglm::detail::concat;

CommState::CommState(std::shared_ptr<DeviceApi> api, CommHandle comm, int device)
    : api_(std::move(api)), comm_(comm), device_(device) {}

CommState::~CommState() {
  if (comm_ == nullptr || aborted()) return;
  try {
    selectDevice();
    api_->commDestroy(comm_);
  } catch (...) {  // destructors never throw
  }
}

void CommState::abort(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_.load(std::memory_order_relaxed)) return;
    reason_ = reason;
    aborted_.store(true, std::memory_order_release);
  }
  try {
    selectDevice();
    api_->commAbort(comm_);
  } catch (...) {  // the abort is best effort; the state says aborted either way
  }
}

std::string CommState::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

OpEvent::OpEvent(std::shared_ptr<CommState> state, StreamHandle stream) : state_(std::move(state)) {
  DeviceApi& api = state_->api();
  event_ = api.createEvent();
  try {
    api.recordEvent(event_, stream);
  } catch (...) {
    api.destroyEvent(event_);
    throw;
  }
}

OpEvent::~OpEvent() {
  try {
    state_->selectDevice();
    state_->api().destroyEvent(event_);
  } catch (...) {
  }
}

EventState OpEvent::query(std::string* error) const {
  state_->selectDevice();
  return state_->api().queryEvent(event_, error);
}

NcclWork::NcclWork(WorkInfo info, std::shared_ptr<CommState> state, std::shared_ptr<OpEvent> event,
                   std::vector<at::Tensor> result)
    : Work(std::move(info)), state_(std::move(state)), event_(std::move(event)) {
  result_ = std::move(result);
}

bool NcclWork::isCompleted() const {
  if (done_.load(std::memory_order_acquire)) return true;
  return event_->query(nullptr) != EventState::kPending;
}

void NcclWork::synchronizeStream() const {
  state_->selectDevice();
  DeviceApi& api = state_->api();
  api.streamWaitEvent(api.callerStream(), event_->handle());
}

void NcclWork::wait(std::chrono::milliseconds timeout) {
  if (!done_.load(std::memory_order_acquire)) {
    synchronizeStream();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string error;
      const EventState s = event_->query(&error);
      if (s == EventState::kDone) break;
      if (s == EventState::kFailed) {
        state_->abort(describe() + ": CUDA error " + error);
        fail(std::make_exception_ptr(
            CommError(concat("[Rank ", info_.rank, "] ", describe(), ": CUDA error ", error, "; communicator aborted"))));
        break;
      }
      const std::string async = state_->api().asyncError(state_->handle());
      if (!async.empty()) {
        state_->abort(describe() + ": NCCL async error " + async);
        fail(std::make_exception_ptr(CommError(
            concat("[Rank ", info_.rank, "] ", describe(), ": NCCL async error ", async, "; communicator aborted"))));
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        state_->abort(concat(describe(), " timed out after ", timeout.count(), " ms"));
        throwTimeout(timeout);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(true, std::memory_order_release);
  }
  if (auto err = exception()) std::rethrow_exception(err);
}

}  // namespace autoglm::comm::nccl
