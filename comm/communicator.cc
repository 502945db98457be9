#include "comm/communicator.h"

#include <ATen/Functions.h>
#include <c10/core/ScalarType.h>

#include <cstring>

#include "core/error.h"

namespace autoglm::comm {

const char* toString(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
  }
  return "unknown";
}

bool isSupportedDtype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float:
    case c10::ScalarType::Half:
    case c10::ScalarType::BFloat16:
    case c10::ScalarType::Int:
    case c10::ScalarType::Long:
    case c10::ScalarType::Byte:
      return true;
    default:
      return false;
  }
}

std::string supportedDtypesText() { return "float32, float16, bfloat16, int32, int64, uint8"; }

std::vector<std::string> allgatherStrings(Communicator& comm, const std::string& mine) {
  if (comm.size() == 1) return {mine};
  at::Tensor bytes = at::empty({static_cast<int64_t>(mine.size())}, at::TensorOptions().dtype(at::kByte));
  if (!mine.empty()) std::memcpy(bytes.data_ptr<uint8_t>(), mine.data(), mine.size());
  auto w = comm.allgatherv(bytes, {});
  w->wait();
  std::vector<std::string> out;
  for (const at::Tensor& t : w->result()) {
    out.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), static_cast<size_t>(t.numel()));
  }
  return out;
}

namespace detail {

using autoglm::detail::concat;

std::string opPrefix(const Communicator& comm, const char* op, uint64_t seq) {
  std::string s = concat("[Rank ", comm.rank(), "] ", comm.backendName(), " ", op, " on group '", comm.groupName(),
                         "' (size ", comm.size());
  if (seq > 0) s += concat(", SeqNum=", seq);
  return s + "): ";
}

namespace {
std::string where(const Communicator& comm, const char* what) { return opPrefix(comm, what); }
}  // namespace

void checkTensor(const at::Tensor& t, c10::DeviceType device_type, const Communicator& comm,
                 const char* what) {
  if (!t.defined()) throw CommError(where(comm, what) + "tensor is undefined");
  if (!isSupportedDtype(t.scalar_type())) {
    throw CommError(where(comm, what) + concat("dtype ", c10::toString(t.scalar_type()),
                                               " is not supported (supported: ",
                                               supportedDtypesText(), ")"));
  }
  if (t.device().type() != device_type) {
    throw CommError(where(comm, what) + concat("tensor is on ", t.device().str(), " but the ",
                                               comm.backendName(), " backend needs ",
                                               c10::DeviceTypeName(device_type, true), " tensors"));
  }
  if (!t.is_contiguous()) {
    throw CommError(where(comm, what) + concat("tensor of shape ", t.sizes(), " with strides ",
                                               t.strides(),
                                               " is not contiguous; call .contiguous() first"));
  }
}

void checkReduce(const at::Tensor& t, ReduceOp op, const Communicator& comm, const char* what) {
  if (op == ReduceOp::kAvg && !c10::isFloatingType(t.scalar_type())) {
    throw CommError(where(comm, what) + concat("ReduceOp avg needs a floating dtype, got ",
                                               c10::toString(t.scalar_type()),
                                               "; use sum and divide"));
  }
}

void checkPeer(int peer, const Communicator& comm, const char* what) {
  if (peer < 0 || peer >= comm.size()) {
    throw CommError(where(comm, what) + concat("peer rank ", peer, " is outside [0, ", comm.size(), ")"));
  }
}

void checkDivisible(const at::Tensor& t, const Communicator& comm, const char* what) {
  if (t.dim() < 1 || t.size(0) % comm.size() != 0) {
    throw CommError(where(comm, what) + concat("input of shape ", t.sizes(),
                                               " needs a first dimension divisible by the group size ", comm.size()));
  }
}

void checkTag(int tag, int max_tag, const Communicator& comm, const char* what) {
  if (tag < 0 || tag > max_tag) {
    throw CommError(where(comm, what) + concat("tag ", tag, " is outside [0, ", max_tag, "]"));
  }
}

void checkPeerDtype(int peer, c10::ScalarType peer_dtype, c10::ScalarType mine, const Communicator& comm,
                    const char* what, uint64_t seq) {
  if (peer_dtype != mine) {
    throw CommError(opPrefix(comm, what, seq) + concat("rank ", peer, " sent dtype ", c10::toString(peer_dtype),
                                                       " but this rank has ", c10::toString(mine)));
  }
}

WorkInfo workInfo(const Communicator& comm, const char* backend, OpType op, uint64_t seq, const at::Tensor* t,
                  Millis timeout) {
  WorkInfo w;
  w.backend = backend;
  w.group = comm.groupName();
  w.rank = comm.rank();
  w.op = op;
  w.seq = seq;
  if (t != nullptr && t->defined()) {
    w.numel = t->numel();
    w.bytes = static_cast<int64_t>(t->nbytes());
    w.dtype = c10::toString(t->scalar_type());
  }
  w.timeout = timeout;
  return w;
}

}  // namespace detail
}  // namespace autoglm::comm
