// The real DeviceApi: the CUDA runtime and NCCL.

#include <cuda_runtime_api.h>

#include <ATen/Functions.h>

#include "comm/nccl/device_api.h"
#include "comm/nccl/types.h"
#include "core/error.h"

namespace autoglm::comm::nccl {
namespace {

cudaStream_t stream(StreamHandle s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t event(EventHandle e) { return static_cast<cudaEvent_t>(e); }
ncclComm_t comm(CommHandle c) { return static_cast<ncclComm_t>(c); }

class CudaDeviceApi final : public DeviceApi {
 public:
  c10::DeviceType deviceType() const override { return c10::DeviceType::CUDA; }

  int deviceCount() override {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky "no device" error
      return 0;
    }
    return n;
  }

  void setDevice(int device) override { AUTOGLM_CHECK_CUDA(cudaSetDevice(device)); }

  at::Tensor empty(at::IntArrayRef sizes, c10::ScalarType dtype, int device) override {
    int64_t numel = 1;
    for (int64_t s : sizes) numel *= s;
    const size_t bytes = static_cast<size_t>(numel) * c10::elementSize(dtype);
    void* ptr = nullptr;
    AUTOGLM_CHECK_CUDA(cudaSetDevice(device));
    if (bytes > 0) AUTOGLM_CHECK_CUDA(cudaMalloc(&ptr, bytes));
    // cudaFree waits for the device work that uses the memory.
    const c10::Device where(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device));
    // The target device is given, so LibTorch does not ask its (possibly absent)
    // CUDA hooks where the pointer lives.
    return at::for_blob(ptr, sizes)
        .deleter([](void* p) {
          if (p != nullptr) cudaFree(p);
        })
        .options(at::TensorOptions().dtype(dtype).device(where))
        .target_device(where)
        .make_tensor();
  }

  void copyToDevice(void* dst, const void* src, size_t bytes) override {
    AUTOGLM_CHECK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  }
  void copyToHost(void* dst, const void* src, size_t bytes) override {
    AUTOGLM_CHECK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
  }

  StreamHandle createStream() override {
    cudaStream_t s = nullptr;
    AUTOGLM_CHECK_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }
  void destroyStream(StreamHandle s) override { cudaStreamDestroy(stream(s)); }
  StreamHandle callerStream() override { return cudaStreamLegacy; }

  EventHandle createEvent() override {
    cudaEvent_t e = nullptr;
    AUTOGLM_CHECK_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }
  void destroyEvent(EventHandle e) override { cudaEventDestroy(event(e)); }
  void recordEvent(EventHandle e, StreamHandle s) override { AUTOGLM_CHECK_CUDA(cudaEventRecord(event(e), stream(s))); }
  void streamWaitEvent(StreamHandle s, EventHandle e) override {
    AUTOGLM_CHECK_CUDA(cudaStreamWaitEvent(stream(s), event(e), 0));
  }
  EventState queryEvent(EventHandle e, std::string* error) override {
    const cudaError_t r = cudaEventQuery(event(e));
    if (r == cudaSuccess) return EventState::kDone;
    if (r == cudaErrorNotReady) return EventState::kPending;
    if (error != nullptr) *error = cudaGetErrorString(r);
    return EventState::kFailed;
  }

  ncclUniqueId uniqueId() override {
    ncclUniqueId id;
    AUTOGLM_CHECK_NCCL(ncclGetUniqueId(&id));
    return id;
  }
  CommHandle commInitRank(int nranks, const ncclUniqueId& id, int rank) override {
    ncclComm_t c = nullptr;
    AUTOGLM_CHECK_NCCL(ncclCommInitRank(&c, nranks, id, rank));
    return c;
  }
  CommHandle commSplit(CommHandle c, int color, int key) override {
    ncclComm_t out = nullptr;
    AUTOGLM_CHECK_NCCL(ncclCommSplit(comm(c), color, key, &out, nullptr));
    return out;
  }
  std::string asyncError(CommHandle c) override {
    ncclResult_t r = ncclSuccess;
    if (ncclCommGetAsyncError(comm(c), &r) != ncclSuccess) return "ncclCommGetAsyncError failed";
    if (r == ncclSuccess || r == ncclInProgress) return "";
    return ncclGetErrorString(r);
  }
  void commAbort(CommHandle c) override { ncclCommAbort(comm(c)); }
  void commDestroy(CommHandle c) override { ncclCommDestroy(comm(c)); }

  void groupStart() override { AUTOGLM_CHECK_NCCL(ncclGroupStart()); }
  void groupEnd() override { AUTOGLM_CHECK_NCCL(ncclGroupEnd()); }
  void allReduce(const void* send, void* recv, size_t count, ncclDataType_t dtype, ncclRedOp_t op, CommHandle c,
                 StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclAllReduce(send, recv, count, dtype, op, comm(c), stream(s)));
  }
  void broadcast(const void* send, void* recv, size_t count, ncclDataType_t dtype, int root, CommHandle c,
                 StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclBroadcast(send, recv, count, dtype, root, comm(c), stream(s)));
  }
  void reduceScatter(const void* send, void* recv, size_t recv_count, ncclDataType_t dtype, ncclRedOp_t op,
                     CommHandle c, StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclReduceScatter(send, recv, recv_count, dtype, op, comm(c), stream(s)));
  }
  void allGather(const void* send, void* recv, size_t send_count, ncclDataType_t dtype, CommHandle c,
                 StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclAllGather(send, recv, send_count, dtype, comm(c), stream(s)));
  }
  void send(const void* buf, size_t count, ncclDataType_t dtype, int peer, CommHandle c, StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclSend(buf, count, dtype, peer, comm(c), stream(s)));
  }
  void recv(void* buf, size_t count, ncclDataType_t dtype, int peer, CommHandle c, StreamHandle s) override {
    AUTOGLM_CHECK_NCCL(ncclRecv(buf, count, dtype, peer, comm(c), stream(s)));
  }
};

}  // namespace

std::shared_ptr<DeviceApi> makeCudaDeviceApi() { return std::make_shared<CudaDeviceApi>(); }

}  // namespace autoglm::comm::nccl
