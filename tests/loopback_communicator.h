#pragma once
// A communicator that stands in for a group in single-process tests.
//
// With size 1 every collective returns its input (the average over one rank).
// With size > 1 the other ranks are simulated for all-reduce only: each holds
// `peer(tensor, call)` (by default the same tensor as this rank), so a test can
// give "another rank" a gradient this one does not have. Every call is recorded;
// failAt(k): when call k (0-based, every call counted) is an all-reduce, it
// completes with a CommError. Point-to-point: see send() and recv().

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
  // send() keeps what it was given (sent()); recv() hands out what the test
  // queued with queueRecv(), in order.
  std::shared_ptr<comm::Work> send(const at::Tensor& t, int, const comm::SendOptions&) override {
    record(comm::OpType::kSend, t.numel());
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(t.clone());
    return done(comm::OpType::kSend, {});
  }
  std::shared_ptr<comm::Work> recv(int, const comm::RecvOptions&) override {
    record(comm::OpType::kRecv, 0);
    std::lock_guard<std::mutex> lock(mu_);
    if (to_receive_.empty()) throw std::logic_error("loopback: recv with nothing queued (queueRecv)");
    at::Tensor t = to_receive_.front();
    to_receive_.erase(to_receive_.begin());
    return done(comm::OpType::kRecv, {t});
  }
  // A group of one: each receive takes the next send's data.
  std::shared_ptr<comm::Work> batchP2P(const std::vector<comm::P2POp>& ops, const comm::P2POptions&) override {
    onlyAlone("batchP2P");
    record(comm::OpType::kBatchP2P, static_cast<int64_t>(ops.size()));
    std::vector<at::Tensor> sends;
    for (const auto& op : ops) {
      if (op.kind == comm::P2POp::Kind::kSend) sends.push_back(op.tensor);
    }
    size_t next = 0;
    for (const auto& op : ops) {
      if (op.kind != comm::P2POp::Kind::kRecv) continue;
      if (next >= sends.size()) throw std::logic_error("loopback: batchP2P receive without a send");
      at::Tensor dst = op.tensor;
      dst.copy_(sends[next++]);
    }
    return done(comm::OpType::kBatchP2P, {});
  }
  void queueRecv(at::Tensor t) {
    std::lock_guard<std::mutex> lock(mu_);
    to_receive_.push_back(std::move(t));
  }
  std::vector<at::Tensor> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::shared_ptr<comm::Work> barrier(const comm::BarrierOptions&) override {
    record(comm::OpType::kBarrier, 0);
    return done(comm::OpType::kBarrier, {});
  }
  // Another loopback group of the same size.
  std::shared_ptr<comm::Communicator> split(int, int, const std::string&) override {
    record(comm::OpType::kSplit, 0);
    return std::make_shared<LoopbackComm>(size_);
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
  std::vector<at::Tensor> sent_, to_receive_;
};

}  // namespace autoglm::test
