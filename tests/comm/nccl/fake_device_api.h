#pragma once
// A DeviceApi without a device, for the NCCL backend's host logic: tensors are
// CPU tensors, nothing is computed, every call is logged ("setDevice(3)",
// "groupStart", "send(peer=1, count=4)", ...), and events fire only when the
// test says so (completeAll(), or autoComplete(true) for ones that fire when
// recorded).

#include <ATen/Functions.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "comm/nccl/device_api.h"
#include "core/error.h"

namespace autoglm::comm::nccl::test {

class FakeDeviceApi final : public DeviceApi {
 public:
  c10::DeviceType deviceType() const override { return c10::DeviceType::CPU; }
  int deviceCount() override { return 4; }
  void setDevice(int device) override { log("setDevice(" + std::to_string(device) + ")"); }
  at::Tensor empty(at::IntArrayRef sizes, c10::ScalarType dtype, int) override {
    log("empty");
    return at::zeros(sizes, at::TensorOptions().dtype(dtype));
  }
  void copyToDevice(void*, const void*, size_t) override { log("copyToDevice"); }
  void copyToHost(void*, const void*, size_t) override { log("copyToHost"); }

  StreamHandle createStream() override { return handle("createStream"); }
  void destroyStream(StreamHandle) override { log("destroyStream"); }
  StreamHandle callerStream() override { return reinterpret_cast<StreamHandle>(uintptr_t{1}); }
  EventHandle createEvent() override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto e = reinterpret_cast<EventHandle>(next_++);
    events_[e] = false;
    calls_.push_back("createEvent");
    return e;
  }
  void destroyEvent(EventHandle e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.erase(e);
    calls_.push_back("destroyEvent");
  }
  void recordEvent(EventHandle e, StreamHandle) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_[e] = auto_complete_;
    calls_.push_back("recordEvent");
  }
  void streamWaitEvent(StreamHandle, EventHandle) override { log("streamWaitEvent"); }
  EventState queryEvent(EventHandle e, std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("queryEvent");
    if (!event_error_.empty()) {
      if (error != nullptr) *error = event_error_;
      return EventState::kFailed;
    }
    auto it = events_.find(e);
    return it != events_.end() && it->second ? EventState::kDone : EventState::kPending;
  }

  ncclUniqueId uniqueId() override { return ncclUniqueId{}; }
  CommHandle commInitRank(int, const ncclUniqueId&, int) override { return handle("commInitRank"); }
  CommHandle commSplit(CommHandle, int color, int key) override {
    return handle("commSplit(" + std::to_string(color) + ", " + std::to_string(key) + ")");
  }
  std::string asyncError(CommHandle) override {
    std::lock_guard<std::mutex> lock(mu_);
    return async_error_;
  }
  void commAbort(CommHandle) override { log("commAbort"); }
  void commDestroy(CommHandle) override { log("commDestroy"); }

  void groupStart() override { log("groupStart"); }
  void groupEnd() override { log("groupEnd"); }
  void allReduce(const void*, void*, size_t count, ncclDataType_t, ncclRedOp_t, CommHandle, StreamHandle) override {
    op("allReduce(count=" + std::to_string(count) + ")");
  }
  void broadcast(const void*, void*, size_t count, ncclDataType_t, int root, CommHandle, StreamHandle) override {
    op("broadcast(root=" + std::to_string(root) + ", count=" + std::to_string(count) + ")");
  }
  void reduceScatter(const void*, void*, size_t count, ncclDataType_t, ncclRedOp_t, CommHandle,
                     StreamHandle) override {
    op("reduceScatter(count=" + std::to_string(count) + ")");
  }
  void allGather(const void*, void*, size_t count, ncclDataType_t, CommHandle, StreamHandle) override {
    op("allGather(count=" + std::to_string(count) + ")");
  }
  void send(const void*, size_t count, ncclDataType_t, int peer, CommHandle, StreamHandle) override {
    op("send(peer=" + std::to_string(peer) + ", count=" + std::to_string(count) + ")");
  }
  void recv(void*, size_t count, ncclDataType_t, int peer, CommHandle, StreamHandle) override {
    op("recv(peer=" + std::to_string(peer) + ", count=" + std::to_string(count) + ")");
  }

  // Test controls.
  void completeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [e, done] : events_) done = true;
  }
  void autoComplete(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    auto_complete_ = on;
  }
  void setAsyncError(std::string e) {
    std::lock_guard<std::mutex> lock(mu_);
    async_error_ = std::move(e);
  }
  void setEventError(std::string e) {
    std::lock_guard<std::mutex> lock(mu_);
    event_error_ = std::move(e);
  }
  // The next NCCL operation whose log line starts with `prefix` throws CommError.
  void failNext(std::string prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = std::move(prefix);
  }
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void clearCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }
  size_t liveEvents() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  int count(const std::string& call) const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c == call ? 1 : 0;
    return n;
  }

 private:
  void log(std::string c) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(c));
  }
  void op(std::string c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_next_.empty() && c.rfind(fail_next_, 0) == 0) {
      fail_next_.clear();
      throw CommError(c + " failed: NCCL error 2 (unhandled system error)");
    }
    calls_.push_back(std::move(c));
  }
  void* handle(std::string c) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(c));
    return reinterpret_cast<void*>(next_++);
  }

  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<EventHandle, bool> events_;
  uintptr_t next_ = 0x1000;
  bool auto_complete_ = false;
  std::string async_error_, event_error_, fail_next_;
};

}  // namespace autoglm::comm::nccl::test
