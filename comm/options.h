#pragma once
// Per-operation options (c10d style). Every operation carries a timeout, used by
// Work::wait() when no explicit timeout is passed and by the backend's own waits
// (the shared-memory all-reduce, the inline path). kDefaultTimeout (0) means the
// communicator's comm.timeout_ms.

#include <chrono>
#include <cstdint>

#include "comm/reduce_op.h"

namespace autoglm::comm {

using Millis = std::chrono::milliseconds;
inline constexpr Millis kDefaultTimeout{0};

struct AllreduceOptions {
  ReduceOp op = ReduceOp::kSum;
  Millis timeout = kDefaultTimeout;
};

struct AllgatherOptions {
  Millis timeout = kDefaultTimeout;
};

struct ReduceScatterOptions {
  ReduceOp op = ReduceOp::kSum;
  Millis timeout = kDefaultTimeout;
};

struct AlltoallOptions {
  Millis timeout = kDefaultTimeout;
};

struct BroadcastOptions {
  int root = 0;
  Millis timeout = kDefaultTimeout;
};

struct SendOptions {
  int tag = 0;  // 0 <= tag < 2^20
  Millis timeout = kDefaultTimeout;
};

struct RecvOptions {
  int tag = 0;
  Millis timeout = kDefaultTimeout;
};

struct P2POptions {
  Millis timeout = kDefaultTimeout;
};

struct BarrierOptions {
  Millis timeout = kDefaultTimeout;
};

}  // namespace autoglm::comm
