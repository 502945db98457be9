#pragma once
// Every CUDA runtime and NCCL call the NCCL backend makes, behind one small
// interface. makeCudaDeviceApi() is the real one; tests substitute a fake that
// records the calls and decides when events fire, so the backend's host logic
// (what stays alive until when, group bracketing, aborts, device selection) is
// tested without a GPU.
//
// Handles are opaque: the real API casts them to cudaStream_t, cudaEvent_t and
// ncclComm_t. Every method throws CommError naming the call on failure.

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>
#include <nccl.h>

#include <cstddef>
#include <memory>
#include <string>

namespace autoglm::comm::nccl {

using StreamHandle = void*;
using EventHandle = void*;
using CommHandle = void*;

enum class EventState { kDone, kPending, kFailed };

class DeviceApi {
 public:
  virtual ~DeviceApi() = default;

  // Where the backend's tensors live: CUDA (the fake: CPU).
  virtual c10::DeviceType deviceType() const = 0;
  virtual int deviceCount() = 0;
  virtual void setDevice(int device) = 0;
  // A tensor on `device` owning new device memory (freed when the last
  // reference goes). LibTorch here may be a CPU-only build, so the backend never
  // asks LibTorch for device memory.
  virtual at::Tensor empty(at::IntArrayRef sizes, c10::ScalarType dtype, int device) = 0;
  // Plain copies between host and device memory (tests, benchmarks).
  virtual void copyToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void copyToHost(void* dst, const void* src, size_t bytes) = 0;

  virtual StreamHandle createStream() = 0;
  virtual void destroyStream(StreamHandle s) = 0;
  // The stream the caller's device work is ordered on (CUDA's legacy default
  // stream, which LibTorch uses unless a stream guard is set).
  virtual StreamHandle callerStream() = 0;
  virtual EventHandle createEvent() = 0;
  virtual void destroyEvent(EventHandle e) = 0;
  virtual void recordEvent(EventHandle e, StreamHandle s) = 0;
  virtual void streamWaitEvent(StreamHandle s, EventHandle e) = 0;
  // kFailed fills *error.
  virtual EventState queryEvent(EventHandle e, std::string* error) = 0;

  virtual ncclUniqueId uniqueId() = 0;
  virtual CommHandle commInitRank(int nranks, const ncclUniqueId& id, int rank) = 0;
  virtual CommHandle commSplit(CommHandle comm, int color, int key) = 0;
  // "" when the communicator has no asynchronous error.
  virtual std::string asyncError(CommHandle comm) = 0;
  virtual void commAbort(CommHandle comm) = 0;
  virtual void commDestroy(CommHandle comm) = 0;

  virtual void groupStart() = 0;
  virtual void groupEnd() = 0;
  virtual void allReduce(const void* send, void* recv, size_t count, ncclDataType_t dtype, ncclRedOp_t op,
                         CommHandle comm, StreamHandle stream) = 0;
  virtual void broadcast(const void* send, void* recv, size_t count, ncclDataType_t dtype, int root, CommHandle comm,
                         StreamHandle stream) = 0;
  virtual void reduceScatter(const void* send, void* recv, size_t recv_count, ncclDataType_t dtype, ncclRedOp_t op,
                             CommHandle comm, StreamHandle stream) = 0;
  virtual void allGather(const void* send, void* recv, size_t send_count, ncclDataType_t dtype, CommHandle comm,
                         StreamHandle stream) = 0;
  virtual void send(const void* buf, size_t count, ncclDataType_t dtype, int peer, CommHandle comm,
                    StreamHandle stream) = 0;
  virtual void recv(void* buf, size_t count, ncclDataType_t dtype, int peer, CommHandle comm,
                    StreamHandle stream) = 0;
};

// The CUDA runtime and NCCL.
std::shared_ptr<DeviceApi> makeCudaDeviceApi();

}  // namespace autoglm::comm::nccl
