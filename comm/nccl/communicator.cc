#include "comm/nccl/communicator.h"

#include <ATen/Functions.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "comm/mpi/communicator.h"
#include "comm/nccl/bootstrap.h"
#include "comm/nccl/types.h"
#include "core/error.h"
#include "core/log.h"

namespace autoglm::comm::nccl {
namespace {

using autoglm::detail::concat;

// [dtype, dim, sizes...] for the host-side header of send/recv and allgatherv.
at::Tensor shapeHeader(const at::Tensor& t) {
  std::vector<int64_t> h{static_cast<int64_t>(t.scalar_type()), t.dim()};
  for (int64_t s : t.sizes()) h.push_back(s);
  return at::tensor(h, at::TensorOptions().dtype(at::kLong));
}

size_t count(const at::Tensor& t) { return static_cast<size_t>(t.numel()); }

}  // namespace

NcclCommunicator::NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, const CommConfig& cfg,
                                   std::string group_name)
    : api_(makeCudaDeviceApi()), host_(bootstrap), cfg_(cfg), group_(std::move(group_name)) {
  rank_ = host_->rank();
  size_ = host_->size();
  const int device = pickDevice(cfg_.cuda_device, localRank(*bootstrap), api_->deviceCount(), rank_);
  api_->setDevice(device);
  const ncclUniqueId id = bootstrapUniqueId(*bootstrap, [this] { return api_->uniqueId(); });
  state_ = std::make_shared<CommState>(api_, api_->commInitRank(size_, id, rank_), device);
  initStream();
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<DeviceApi> api, std::shared_ptr<Communicator> host,
                                   CommHandle comm, int device, const CommConfig& cfg, std::string group_name)
    : api_(std::move(api)), host_(std::move(host)), cfg_(cfg), group_(std::move(group_name)) {
  rank_ = host_->rank();
  size_ = host_->size();
  state_ = std::make_shared<CommState>(api_, comm, device);
  initStream();
}

void NcclCommunicator::initStream() {
  state_->selectDevice();
  stream_ = api_->createStream();
  ready_event_ = api_->createEvent();
}

NcclCommunicator::~NcclCommunicator() {
  try {
    state_->selectDevice();
    // What is still in flight may read or write its tensors: wait for it (up to
    // the operation timeout), abort what remains, then release everything.
    const auto deadline = std::chrono::steady_clock::now() + Millis(cfg_.timeout_ms);
    for (;;) {
      sweep();
      std::lock_guard<std::mutex> lock(mu_);
      if (inflight_.empty() || state_->aborted()) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        core::log::warn("[Rank {}] nccl communicator '{}' destroyed with {} operation(s) in flight after {} ms; aborting it",
                  rank_, group_, inflight_.size(), cfg_.timeout_ms);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!inflight_.empty() && !state_->aborted()) state_->abort("destroyed with operations in flight");
      inflight_.clear();
    }
    if (ready_event_ != nullptr) api_->destroyEvent(ready_event_);
    if (stream_ != nullptr) api_->destroyStream(stream_);
  } catch (...) {  // destructors never throw
  }
}

void NcclCommunicator::abort(const std::string& reason) { state_->abort(reason); }

size_t NcclCommunicator::inflight() {
  state_->selectDevice();
  sweep();
  std::lock_guard<std::mutex> lock(mu_);
  return inflight_.size();
}

void NcclCommunicator::sweep() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!inflight_.empty() && inflight_.front().event->query(nullptr) != EventState::kPending) {
    inflight_.pop_front();
  }
}

WorkInfo NcclCommunicator::info(OpType op, const at::Tensor* t, Millis timeout) {
  return comm::detail::workInfo(*this, "nccl", op, ++seq_, t, timeout);
}

void NcclCommunicator::checkDeviceTensor(const at::Tensor& t, const char* what) const {
  comm::detail::checkTensor(t, api_->deviceType(), *this, what);
  if (api_->deviceType() == c10::DeviceType::CUDA && t.device().index() != state_->device()) {
    throw CommError(comm::detail::opPrefix(*this, what) + concat("tensor is on ", t.device().str(),
                                                                 " but this communicator uses cuda:", device()));
  }
}

void NcclCommunicator::checkTagZero(int tag, const char* what) const {
  if (tag != 0) {
    throw CommError(comm::detail::opPrefix(*this, what) +
                    concat("tag ", tag, ": the NCCL backend has no tags (NCCL matches a pair's messages in the "
                           "order they were issued); use tag 0 and the same order on both ranks"));
  }
}

at::Tensor NcclCommunicator::deviceEmpty(at::IntArrayRef sizes, c10::ScalarType dtype) {
  return api_->empty(sizes, dtype, state_->device());
}

void NcclCommunicator::begin(const char* what) {
  state_->selectDevice();
  if (state_->aborted()) {
    throw CommError(comm::detail::opPrefix(*this, what) + "the communicator was aborted (" + state_->reason() +
                    ") and cannot be used; create a new one");
  }
}

void NcclCommunicator::enter(const char* what) {
  begin(what);
  sweep();
  api_->recordEvent(ready_event_, api_->callerStream());
  api_->streamWaitEvent(stream_, ready_event_);
}

template <typename Issue>
std::shared_ptr<Work> NcclCommunicator::launch(const char* what, WorkInfo wi, std::vector<at::Tensor> keep,
                                               std::vector<at::Tensor> result, Issue&& issue) {
  enter(what);
  try {
    issue();
  } catch (const CommError& e) {
    state_->abort(concat(what, " (SeqNum=", wi.seq, "): ", e.what()));
    throw CommError(comm::detail::opPrefix(*this, what, wi.seq) + e.what() + "; communicator aborted");
  }
  auto event = std::make_shared<OpEvent>(state_, stream_);
  for (const auto& t : result) keep.push_back(t);
  {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_.push_back({event, std::move(keep)});
  }
  return std::make_shared<NcclWork>(std::move(wi), state_, std::move(event), std::move(result));
}

std::shared_ptr<Work> NcclCommunicator::allreduce(at::Tensor& tensor, const AllreduceOptions& opts) {
  begin("allreduce");
  checkDeviceTensor(tensor, "allreduce");
  comm::detail::checkReduce(tensor, opts.op, *this, "allreduce");
  const ncclDataType_t type = ncclDatatype(tensor.scalar_type());
  const ncclRedOp_t op = ncclReduceOp(opts.op);
  return launch("allreduce", info(OpType::kAllreduce, &tensor, opts.timeout), {}, {tensor}, [&] {
    api_->allReduce(tensor.data_ptr(), tensor.data_ptr(), count(tensor), type, op, state_->handle(), stream_);
  });
}

std::shared_ptr<Work> NcclCommunicator::allgather(const at::Tensor& input, const AllgatherOptions& opts) {
  begin("allgather");
  checkDeviceTensor(input, "allgather");
  std::vector<int64_t> shape{size_};
  for (int64_t s : input.sizes()) shape.push_back(s);
  at::Tensor out = deviceEmpty(shape, input.scalar_type());
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  return launch("allgather", info(OpType::kAllgather, &input, opts.timeout), {input}, {out}, [&] {
    api_->allGather(input.data_ptr(), out.data_ptr(), count(input), type, state_->handle(), stream_);
  });
}

std::shared_ptr<Work> NcclCommunicator::allgatherv(const at::Tensor& input, const AllgatherOptions& opts) {
  begin("allgatherv");
  checkDeviceTensor(input, "allgatherv");
  auto headers = host_->allgatherv(shapeHeader(input), opts);
  headers->wait();
  std::vector<at::Tensor> out;
  for (int r = 0; r < size_; ++r) {
    const int64_t* p = headers->result()[static_cast<size_t>(r)].data_ptr<int64_t>();
    comm::detail::checkPeerDtype(r, static_cast<c10::ScalarType>(p[0]), input.scalar_type(), *this, "allgatherv", 0);
    out.push_back(deviceEmpty(std::vector<int64_t>(p + 2, p + 2 + p[1]), input.scalar_type()));
  }
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  return launch("allgatherv", info(OpType::kAllgatherv, &input, opts.timeout), {input}, out, [&] {
    GroupGuard group(*api_);
    for (int r = 0; r < size_; ++r) {
      const at::Tensor& dst = out[static_cast<size_t>(r)];
      api_->broadcast(input.data_ptr(), dst.data_ptr(), count(dst), type, r, state_->handle(), stream_);
    }
    group.end();
  });
}

std::shared_ptr<Work> NcclCommunicator::reduceScatter(const at::Tensor& input, const ReduceScatterOptions& opts) {
  begin("reduceScatter");
  checkDeviceTensor(input, "reduceScatter");
  comm::detail::checkReduce(input, opts.op, *this, "reduceScatter");
  comm::detail::checkDivisible(input, *this, "reduceScatter");
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape[0] /= size_;
  at::Tensor out = deviceEmpty(shape, input.scalar_type());
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  const ncclRedOp_t op = ncclReduceOp(opts.op);
  return launch("reduceScatter", info(OpType::kReduceScatter, &input, opts.timeout), {input}, {out}, [&] {
    api_->reduceScatter(input.data_ptr(), out.data_ptr(), count(out), type, op, state_->handle(), stream_);
  });
}

std::shared_ptr<Work> NcclCommunicator::alltoall(const at::Tensor& input, const AlltoallOptions& opts) {
  begin("alltoall");
  checkDeviceTensor(input, "alltoall");
  comm::detail::checkDivisible(input, *this, "alltoall");
  at::Tensor out = deviceEmpty(input.sizes(), input.scalar_type());
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  const size_t block = count(input) / static_cast<size_t>(size_);
  const size_t block_bytes = block * input.element_size();
  return launch("alltoall", info(OpType::kAlltoall, &input, opts.timeout), {input}, {out}, [&] {
    if (block == 0) return;
    const auto* src = static_cast<const uint8_t*>(input.data_ptr());
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    GroupGuard group(*api_);
    for (int r = 0; r < size_; ++r) {
      api_->send(src + static_cast<size_t>(r) * block_bytes, block, type, r, state_->handle(), stream_);
      api_->recv(dst + static_cast<size_t>(r) * block_bytes, block, type, r, state_->handle(), stream_);
    }
    group.end();
  });
}

std::shared_ptr<Work> NcclCommunicator::broadcast(at::Tensor& tensor, const BroadcastOptions& opts) {
  begin("broadcast");
  checkDeviceTensor(tensor, "broadcast");
  comm::detail::checkPeer(opts.root, *this, "broadcast root");
  const ncclDataType_t type = ncclDatatype(tensor.scalar_type());
  return launch("broadcast", info(OpType::kBroadcast, &tensor, opts.timeout), {}, {tensor}, [&] {
    api_->broadcast(tensor.data_ptr(), tensor.data_ptr(), count(tensor), type, opts.root, state_->handle(), stream_);
  });
}

std::shared_ptr<Work> NcclCommunicator::send(const at::Tensor& tensor, int dst, const SendOptions& opts) {
  begin("send");
  checkDeviceTensor(tensor, "send");
  comm::detail::checkPeer(dst, *this, "send");
  checkTagZero(opts.tag, "send");
  const ncclDataType_t type = ncclDatatype(tensor.scalar_type());
  host_->send(shapeHeader(tensor), dst, {0, opts.timeout});  // completes on its own
  return launch("send", info(OpType::kSend, &tensor, opts.timeout), {tensor}, {}, [&] {
    GroupGuard group(*api_);
    api_->send(tensor.data_ptr(), count(tensor), type, dst, state_->handle(), stream_);
    group.end();
  });
}

std::shared_ptr<Work> NcclCommunicator::recv(int src, const RecvOptions& opts) {
  begin("recv");
  comm::detail::checkPeer(src, *this, "recv");
  checkTagZero(opts.tag, "recv");
  auto header = host_->recv(src, {0, opts.timeout});
  header->wait();
  const int64_t* p = header->result()[0].data_ptr<int64_t>();
  const auto dtype = static_cast<c10::ScalarType>(p[0]);
  at::Tensor out = deviceEmpty(std::vector<int64_t>(p + 2, p + 2 + p[1]), dtype);
  const ncclDataType_t type = ncclDatatype(dtype);
  return launch("recv", info(OpType::kRecv, &out, opts.timeout), {}, {out}, [&] {
    GroupGuard group(*api_);
    api_->recv(out.data_ptr(), count(out), type, src, state_->handle(), stream_);
    group.end();
  });
}

std::shared_ptr<Work> NcclCommunicator::batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) {
  begin("batchP2P");
  std::vector<at::Tensor> keep;
  for (const auto& op : ops) {
    checkDeviceTensor(op.tensor, "batchP2P");
    comm::detail::checkPeer(op.peer, *this, "batchP2P");
    ncclDatatype(op.tensor.scalar_type());
    keep.push_back(op.tensor);
  }
  return launch("batchP2P", info(OpType::kBatchP2P, nullptr, opts.timeout), std::move(keep), {}, [&] {
    GroupGuard group(*api_);
    for (const auto& op : ops) {
      const ncclDataType_t type = ncclDatatype(op.tensor.scalar_type());
      if (op.kind == P2POp::Kind::kSend) {
        api_->send(op.tensor.data_ptr(), count(op.tensor), type, op.peer, state_->handle(), stream_);
      } else {
        api_->recv(op.tensor.data_ptr(), count(op.tensor), type, op.peer, state_->handle(), stream_);
      }
    }
    group.end();
  });
}

std::shared_ptr<Work> NcclCommunicator::barrier(const BarrierOptions& opts) {
  begin("barrier");
  // The one-element all-reduce's buffer lives in the in-flight list until the
  // operation ran, not just until this function returns.
  at::Tensor one = deviceEmpty({1}, at::kFloat);
  return launch("barrier", info(OpType::kBarrier, nullptr, opts.timeout), {one}, {}, [&] {
    api_->allReduce(one.data_ptr(), one.data_ptr(), 1, ncclFloat32, ncclSum, state_->handle(), stream_);
  });
}

std::shared_ptr<Communicator> NcclCommunicator::split(int color, int key, const std::string& group_name) {
  enter("split");
  auto sub_host = host_->split(color, key, group_name);
  CommHandle sub = nullptr;
  try {
    sub = api_->commSplit(state_->handle(), color, key);
  } catch (const CommError& e) {
    state_->abort(std::string("split: ") + e.what());
    throw;
  }
  return std::make_shared<NcclCommunicator>(api_, std::move(sub_host), sub, state_->device(), cfg_, group_name);
}

}  // namespace autoglm::comm::nccl
