#pragma once
// A communicator that stands in for a group in single-process tests.
//
// With size 1 every collective returns its input (the average over one rank).
// With size > 1 the other ranks are simulated for all-reduce only: each holds
// `peer(tensor, call)` (by default the same tensor as this rank), so a test can
// give "another rank" a gradient this one does not have. Every call is recorded,
// and failAt(k) makes the k-th call (0-based) complete with a CommError.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "core/error.h"

namespace autoglm::test {

class LoopbackComm final : public comm::Communicator {
 public:
  struct Call {
    comm::OpType op;
    int64_t numel;
  };
  using Peer = std::function<at::Tensor(const at::Tensor& mine, size_t call)>;

  explicit LoopbackComm(int size = 1, Peer peer = nullptr) : size_(size), peer_(std::move(peer)) {}

  int rank() const override { return 0; }
  int size() const override { return size_; }
  const std::string& groupName() const override { return name_; }
  std::string backendName() const override { return "loopback"; }

  std::shared_ptr<comm::Work> allreduce(at::Tensor& t, const comm::AllreduceOptions& opts) override {
    const size_t call = record(comm::OpType::kAllreduce, t.numel());
    if (call == fail_at_) return failed(comm::OpType::kAllreduce);
    if (size_ > 1) {
      const at::Tensor other = peer_ ? peer_(t, call) : t.clone();
      const double others = static_cast<double>(size_ - 1);
      switch (opts.op) {
        case comm::ReduceOp::kSum: t.add_(other * others); break;
        case comm::ReduceOp::kAvg: t.add_(other * others).div_(static_cast<double>(size_)); break;
        case comm::ReduceOp::kMax: t.copy_(at::maximum(t, other)); break;
      }
    }
    return done(comm::OpType::kAllreduce, {t});
  }
  std::shared_ptr<comm::Work> allgather(const at::Tensor& in, const comm::AllgatherOptions&) override {
    onlyAlone("allgather");
    record(comm::OpType::kAllgather, in.numel());
    return done(comm::OpType::kAllgather, {in.unsqueeze(0).clone()});
  }
  std::shared_ptr<comm::Work> allgatherv(const at::Tensor& in, const comm::AllgatherOptions&) override {
    onlyAlone("allgatherv");
    record(comm::OpType::kAllgatherv, in.numel());
    return done(comm::OpType::kAllgatherv, {in.clone()});
  }
  std::shared_ptr<comm::Work> reduceScatter(const at::Tensor& in, const comm::ReduceScatterOptions&) override {
    onlyAlone("reduceScatter");
    record(comm::OpType::kReduceScatter, in.numel());
    return done(comm::OpType::kReduceScatter, {in.clone()});
  }
  std::shared_ptr<comm::Work> alltoall(const at::Tensor& in, const comm::AlltoallOptions&) override {
    onlyAlone("alltoall");
    record(comm::OpType::kAlltoall, in.numel());
    return done(comm::OpType::kAlltoall, {in.clone()});
  }
  std::shared_ptr<comm::Work> broadcast(at::Tensor& t, const comm::BroadcastOptions&) override {
    record(comm::OpType::kBroadcast, t.numel());
    return done(comm::OpType::kBroadcast, {t});
  }
  std::shared_ptr<comm::Work> send(const at::Tensor&, int, const comm::SendOptions&) override {
    throw std::logic_error("loopback: send");
  }
  std::shared_ptr<comm::Work> recv(int, const comm::RecvOptions&) override {
    throw std::logic_error("loopback: recv");
  }
  std::shared_ptr<comm::Work> barrier(const comm::BarrierOptions&) override {
    record(comm::OpType::kBarrier, 0);
    return done(comm::OpType::kBarrier, {});
  }
  std::shared_ptr<comm::Communicator> split(int, int, const std::string&) override {
    throw std::logic_error("loopback: split");
  }

  // Calls so far (thread-safe: reducers call from their own thread).
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void failAt(size_t call) { fail_at_ = call; }

 private:
  size_t record(comm::OpType op, int64_t numel) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({op, numel});
    return calls_.size() - 1;
  }
  void onlyAlone(const char* op) const {
    if (size_ != 1) throw std::logic_error(std::string("loopback: ") + op + " is simulated only for a group of one");
  }
  std::shared_ptr<comm::Work> done(comm::OpType op, std::vector<at::Tensor> out) const {
    auto w = std::make_shared<comm::Work>(info(op));
    w->finish(std::move(out));
    return w;
  }
  std::shared_ptr<comm::Work> failed(comm::OpType op) const {
    auto w = std::make_shared<comm::Work>(info(op));
    w->fail(std::make_exception_ptr(CommError("loopback: injected failure")));
    return w;
  }
  comm::WorkInfo info(comm::OpType op) const {
    comm::WorkInfo i;
    i.backend = "loopback";
    i.group = name_;
    i.op = op;
    return i;
  }

  int size_;
  Peer peer_;
  std::string name_ = "loopback";
  size_t fail_at_ = static_cast<size_t>(-1);
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

}  // namespace autoglm::test
