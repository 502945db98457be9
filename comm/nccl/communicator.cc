#include "comm/nccl/communicator.h"

#include <ATen/Functions.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "comm/mpi/communicator.h"
#include "comm/nccl/bootstrap.h"
#include "comm/nccl/types.h"
#include "core/error.h"

namespace autoglm::comm::nccl {
namespace {

using autoglm::detail::concat;

at::Tensor shapeHeader(const at::Tensor& t) {
  std::vector<int64_t> h{static_cast<int64_t>(t.scalar_type()), t.dim()};
  for (int64_t s : t.sizes()) h.push_back(s);
  return at::tensor(h, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

// ---- NcclWork ---------------------------------------------------------------

NcclWork::NcclWork(WorkInfo info, ncclComm_t comm, cudaStream_t comm_stream, std::vector<at::Tensor> result)
    : Work(std::move(info)), comm_(comm) {
  AUTOGLM_CHECK_CUDA(cudaEventCreateWithFlags(&done_event_, cudaEventDisableTiming));
  AUTOGLM_CHECK_CUDA(cudaEventRecord(done_event_, comm_stream));
  result_ = std::move(result);
}

NcclWork::~NcclWork() {
  if (done_event_ != nullptr) cudaEventDestroy(done_event_);
}

bool NcclWork::isCompleted() const { return cudaEventQuery(done_event_) != cudaErrorNotReady; }

void NcclWork::synchronizeStream() const {
  AUTOGLM_CHECK_CUDA(cudaStreamWaitEvent(cudaStreamLegacy, done_event_, 0));
}

void NcclWork::wait(std::chrono::milliseconds timeout) {
  synchronizeStream();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const cudaError_t e = cudaEventQuery(done_event_);
    if (e == cudaSuccess) break;
    if (e != cudaErrorNotReady) {
      fail(std::make_exception_ptr(CommError(concat("[Rank ", info_.rank, "] ", describe(), ": CUDA error ",
                                                    cudaGetErrorString(e)))));
      break;
    }
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async != ncclSuccess && async != ncclInProgress) {
      ncclCommAbort(comm_);
      fail(std::make_exception_ptr(CommError(concat("[Rank ", info_.rank, "] ", describe(),
                                                    ": NCCL async error ", ncclGetErrorString(async),
                                                    "; communicator aborted"))));
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ncclCommAbort(comm_);
      throwTimeout(timeout);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(true, std::memory_order_release);
  }
  if (auto err = exception()) std::rethrow_exception(err);
}

// ---- NcclCommunicator ---------------------------------------------------------

NcclCommunicator::NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, const CommConfig& cfg,
                                   std::string group_name)
    : mpi_(std::move(bootstrap)), cfg_(cfg), group_(std::move(group_name)) {
  rank_ = mpi_->rank();
  size_ = mpi_->size();
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
  device_ = pickDevice(cfg_.cuda_device, localRank(*mpi_), count, rank_);
  AUTOGLM_CHECK_CUDA(cudaSetDevice(device_));
  const ncclUniqueId id = bootstrapUniqueId(*mpi_, [] {
    ncclUniqueId out;
    AUTOGLM_CHECK_NCCL(ncclGetUniqueId(&out), nullptr);
    return out;
  });
  AUTOGLM_CHECK_NCCL(ncclCommInitRank(&comm_, size_, id, rank_), nullptr);
  initStream();
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<mpi::MpiCommunicator> bootstrap, ncclComm_t comm,
                                   int device, const CommConfig& cfg, std::string group_name)
    : mpi_(std::move(bootstrap)), cfg_(cfg), group_(std::move(group_name)), device_(device), comm_(comm) {
  rank_ = mpi_->rank();
  size_ = mpi_->size();
  initStream();
}

void NcclCommunicator::initStream() {
  AUTOGLM_CHECK_CUDA(cudaSetDevice(device_));
  AUTOGLM_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  AUTOGLM_CHECK_CUDA(cudaEventCreateWithFlags(&ready_event_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  if (ready_event_ != nullptr) cudaEventDestroy(ready_event_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

WorkInfo NcclCommunicator::info(OpType op, const at::Tensor* t, Millis timeout) {
  return comm::detail::workInfo(*this, "nccl", op, ++seq_, t, timeout);
}

void NcclCommunicator::checkCuda(const at::Tensor& t, const char* what) const {
  comm::detail::checkTensor(t, c10::DeviceType::CUDA, *this, what);
  if (t.device().index() != device_) {
    throw CommError(comm::detail::opPrefix(*this, what) +
                    concat("tensor is on ", t.device().str(), " but this communicator uses cuda:", device_));
  }
}

void NcclCommunicator::enterStream() {
  AUTOGLM_CHECK_CUDA(cudaSetDevice(device_));
  AUTOGLM_CHECK_CUDA(cudaEventRecord(ready_event_, cudaStreamLegacy));
  AUTOGLM_CHECK_CUDA(cudaStreamWaitEvent(stream_, ready_event_, 0));
}

std::shared_ptr<Work> NcclCommunicator::finishOp(WorkInfo info, std::vector<at::Tensor> result) {
  return std::make_shared<NcclWork>(std::move(info), comm_, stream_, std::move(result));
}

std::shared_ptr<Work> NcclCommunicator::allreduce(at::Tensor& tensor, const AllreduceOptions& opts) {
  checkCuda(tensor, "allreduce");
  comm::detail::checkReduce(tensor, opts.op, *this, "allreduce");
  const ncclDataType_t type = ncclDatatype(tensor.scalar_type());
  auto wi = info(OpType::kAllreduce, &tensor, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), type,
                                   ncclReduceOp(opts.op), comm_, stream_),
                     comm_);
  return finishOp(std::move(wi), {tensor});
}

std::shared_ptr<Work> NcclCommunicator::allgather(const at::Tensor& input, const AllgatherOptions& opts) {
  checkCuda(input, "allgather");
  std::vector<int64_t> shape{size_};
  for (int64_t s : input.sizes()) shape.push_back(s);
  at::Tensor out = at::empty(shape, input.options());
  auto wi = info(OpType::kAllgather, &input, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclAllGather(input.data_ptr(), out.data_ptr(), input.numel(),
                                   ncclDatatype(input.scalar_type()), comm_, stream_),
                     comm_);
  return finishOp(std::move(wi), {out});
}

std::shared_ptr<Work> NcclCommunicator::allgatherv(const at::Tensor& input, const AllgatherOptions& opts) {
  checkCuda(input, "allgatherv");
  auto headers = mpi_->allgatherv(shapeHeader(input), opts);
  headers->wait();
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> numels;
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    const at::Tensor& h = headers->result()[r];
    const int64_t* p = h.data_ptr<int64_t>();
    comm::detail::checkPeerDtype(r, static_cast<c10::ScalarType>(p[0]), input.scalar_type(), *this, "allgatherv", 0);
    shapes.emplace_back(p + 2, p + 2 + p[1]);
    int64_t n = 1;
    for (int64_t s : shapes.back()) n *= s;
    numels.push_back(n);
    total += n;
  }
  at::Tensor flat = at::empty({total}, input.options());
  auto wi = info(OpType::kAllgatherv, &input, opts.timeout);
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  enterStream();
  std::vector<at::Tensor> out;
  GroupGuard group(comm_);
  int64_t off = 0;
  for (int r = 0; r < size_; ++r) {
    at::Tensor slice = flat.narrow(0, off, numels[r]);
    AUTOGLM_CHECK_NCCL(ncclBroadcast(input.data_ptr(), slice.data_ptr(), numels[r], type, r, comm_, stream_),
                       comm_);
    out.push_back(slice.view(shapes[r]));
    off += numels[r];
  }
  group.end();
  return finishOp(std::move(wi), std::move(out));
}

std::shared_ptr<Work> NcclCommunicator::reduceScatter(const at::Tensor& input, const ReduceScatterOptions& opts) {
  checkCuda(input, "reduceScatter");
  comm::detail::checkReduce(input, opts.op, *this, "reduceScatter");
  comm::detail::checkDivisible(input, *this, "reduceScatter");
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape[0] /= size_;
  at::Tensor out = at::empty(shape, input.options());
  auto wi = info(OpType::kReduceScatter, &input, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclReduceScatter(input.data_ptr(), out.data_ptr(), out.numel(),
                                       ncclDatatype(input.scalar_type()), ncclReduceOp(opts.op), comm_, stream_),
                     comm_);
  return finishOp(std::move(wi), {out});
}

std::shared_ptr<Work> NcclCommunicator::alltoall(const at::Tensor& input, const AlltoallOptions& opts) {
  checkCuda(input, "alltoall");
  comm::detail::checkDivisible(input, *this, "alltoall");
  at::Tensor out = at::empty(input.sizes(), input.options());
  const ncclDataType_t type = ncclDatatype(input.scalar_type());
  const int64_t count = input.numel() / size_;
  const int64_t block_bytes = count * static_cast<int64_t>(input.element_size());
  auto wi = info(OpType::kAlltoall, &input, opts.timeout);
  enterStream();
  if (count > 0) {
    const auto* src = static_cast<const uint8_t*>(input.data_ptr());
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    GroupGuard group(comm_);
    for (int r = 0; r < size_; ++r) {
      AUTOGLM_CHECK_NCCL(ncclSend(src + r * block_bytes, count, type, r, comm_, stream_), comm_);
      AUTOGLM_CHECK_NCCL(ncclRecv(dst + r * block_bytes, count, type, r, comm_, stream_), comm_);
    }
    group.end();
  }
  return finishOp(std::move(wi), {out});
}

std::shared_ptr<Work> NcclCommunicator::broadcast(at::Tensor& tensor, const BroadcastOptions& opts) {
  checkCuda(tensor, "broadcast");
  comm::detail::checkPeer(opts.root, *this, "broadcast root");
  auto wi = info(OpType::kBroadcast, &tensor, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                                   ncclDatatype(tensor.scalar_type()), opts.root, comm_, stream_),
                     comm_);
  return finishOp(std::move(wi), {tensor});
}

std::shared_ptr<Work> NcclCommunicator::send(const at::Tensor& tensor, int dst, const SendOptions& opts) {
  checkCuda(tensor, "send");
  comm::detail::checkPeer(dst, *this, "send");
  mpi_->send(shapeHeader(tensor), dst, {opts.tag, opts.timeout});  // completes on its own
  auto wi = info(OpType::kSend, &tensor, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclSend(tensor.data_ptr(), tensor.numel(), ncclDatatype(tensor.scalar_type()), dst,
                              comm_, stream_),
                     comm_);
  return finishOp(std::move(wi), {});
}

std::shared_ptr<Work> NcclCommunicator::recv(int src, const RecvOptions& opts) {
  comm::detail::checkPeer(src, *this, "recv");
  auto header = mpi_->recv(src, {opts.tag, opts.timeout});
  header->wait();
  const at::Tensor& h = header->result()[0];
  const int64_t* p = h.data_ptr<int64_t>();
  const auto dtype = static_cast<c10::ScalarType>(p[0]);
  std::vector<int64_t> shape(p + 2, p + 2 + p[1]);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype).device(c10::DeviceType::CUDA, device_));
  auto wi = info(OpType::kRecv, &out, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclRecv(out.data_ptr(), out.numel(), ncclDatatype(dtype), src, comm_, stream_), comm_);
  return finishOp(std::move(wi), {out});
}

std::shared_ptr<Work> NcclCommunicator::barrier(const BarrierOptions& opts) {
  at::Tensor one = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(c10::DeviceType::CUDA, device_));
  auto wi = info(OpType::kBarrier, nullptr, opts.timeout);
  enterStream();
  AUTOGLM_CHECK_NCCL(ncclAllReduce(one.data_ptr(), one.data_ptr(), 1, ncclFloat32, ncclSum, comm_, stream_), comm_);
  return finishOp(std::move(wi), {});
}

std::shared_ptr<Communicator> NcclCommunicator::split(int color, int key, const std::string& group_name) {
  auto sub_mpi = std::dynamic_pointer_cast<mpi::MpiCommunicator>(mpi_->split(color, key, group_name));
  ncclComm_t sub = nullptr;
  AUTOGLM_CHECK_CUDA(cudaSetDevice(device_));
  AUTOGLM_CHECK_NCCL(ncclCommSplit(comm_, color, key, &sub, nullptr), comm_);
  return std::shared_ptr<Communicator>(new NcclCommunicator(std::move(sub_mpi), sub, device_, cfg_, group_name));
}

}  // namespace autoglm::comm::nccl
