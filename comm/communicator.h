#pragma once
// The communicator interface over LibTorch tensors (c10d ProcessGroup, reduced
// to what the trainer and ParallelGrid call).
//
// Contract, for every backend:
//  - Every operation returns immediately with a Work handle; the caller keeps the
//    tensors alive and untouched until the Work completed.
//  - Operations on one communicator run in the order they were issued; every rank
//    of the group must issue the same collectives in the same order.
//  - Tensors must be contiguous, of a supported dtype (float32, float16, bfloat16,
//    int32, int64, uint8) and on the backend's device (MPI: CPU, NCCL: CUDA);
//    otherwise the call throws CommError before anything is sent.
//  - ReduceOp::kAvg needs a floating dtype.

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "comm/options.h"
#include "comm/work.h"

namespace autoglm::comm {

// One send or receive of a batch (Communicator::batchP2P). The receiver
// allocates `tensor` with the shape and dtype the sender sends: both sides know
// it, so no header travels.
struct P2POp {
  enum class Kind { kSend, kRecv };
  Kind kind = Kind::kSend;
  at::Tensor tensor;
  int peer = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "world", "tp", "dp", "pp", ...: used in messages.
  virtual const std::string& groupName() const = 0;
  virtual std::string backendName() const = 0;

  // In place over all ranks.
  virtual std::shared_ptr<Work> allreduce(at::Tensor& tensor, const AllreduceOptions& opts) = 0;
  // Equal shapes on all ranks; result()[0] has shape [size(), ...input shape].
  virtual std::shared_ptr<Work> allgather(const at::Tensor& input, const AllgatherOptions& opts) = 0;
  // Any shape per rank (same dtype); result() holds one tensor per rank.
  virtual std::shared_ptr<Work> allgatherv(const at::Tensor& input, const AllgatherOptions& opts) = 0;
  // input.size(0) divisible by size(); result()[0] is this rank's reduced slice
  // of input.size(0)/size() rows.
  virtual std::shared_ptr<Work> reduceScatter(const at::Tensor& input,
                                              const ReduceScatterOptions& opts) = 0;
  // input.size(0) divisible by size(); row block j (input.size(0)/size() rows)
  // goes to rank j. result()[0] has input's shape; its row block j came from rank j.
  virtual std::shared_ptr<Work> alltoall(const at::Tensor& input, const AlltoallOptions& opts) = 0;
  // In place from opts.root.
  virtual std::shared_ptr<Work> broadcast(at::Tensor& tensor, const BroadcastOptions& opts) = 0;
  // Point to point; the receiver learns shape and dtype from a header sent first.
  virtual std::shared_ptr<Work> send(const at::Tensor& tensor, int dst, const SendOptions& opts) = 0;
  virtual std::shared_ptr<Work> recv(int src, const RecvOptions& opts) = 0;
  // Sends and receives started together, so that no order among them can
  // deadlock (a ring exchange, a pipeline stage's activations one way and
  // gradients the other). Between two ranks, sends and receives match in the
  // order each side lists them. Received data lands in the given tensors;
  // result() is empty. Every op's tensor must stay untouched until the Work completed.
  virtual std::shared_ptr<Work> batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) = 0;
  virtual std::shared_ptr<Work> barrier(const BarrierOptions& opts) = 0;

  // Collective over this communicator: ranks with the same color form a new
  // communicator, ordered by key (MPI_Comm_split). Blocks until done.
  virtual std::shared_ptr<Communicator> split(int color, int key, const std::string& group_name) = 0;
};

// Every rank's bytes, in rank order (a variable all-gather of uint8; blocks
// until done). Collective over `comm`; a group of one returns {mine} without communicating.
std::vector<std::string> allgatherStrings(Communicator& comm, const std::string& mine);

namespace detail {

// "[Rank 1] mpi allreduce on group 'dp' (size 4, SeqNum=12): ", the start of
// every message about one operation of `comm`, for every backend. seq 0: the
// operation was refused before it got a sequence number.
std::string opPrefix(const Communicator& comm, const char* op, uint64_t seq = 0);

// Throws CommError unless `t` is defined, contiguous, of a supported dtype and on
// `device_type`. `what` names the op ("allreduce") for the message.
void checkTensor(const at::Tensor& t, c10::DeviceType device_type, const Communicator& comm,
                 const char* what);
// Throws CommError for kAvg on a non-floating dtype.
void checkReduce(const at::Tensor& t, ReduceOp op, const Communicator& comm, const char* what);
void checkPeer(int peer, const Communicator& comm, const char* what);
// Throws CommError unless `t` has a first dimension divisible by the group size
// (reduceScatter, alltoall).
void checkDivisible(const at::Tensor& t, const Communicator& comm, const char* what);
// Throws CommError unless 0 <= tag <= max_tag.
void checkTag(int tag, int max_tag, const Communicator& comm, const char* what);
// Throws CommError for a gathered peer whose dtype differs from this rank's.
void checkPeerDtype(int peer, c10::ScalarType peer_dtype, c10::ScalarType mine, const Communicator& comm,
                    const char* what, uint64_t seq);
// The description a backend attaches to each Work: backend (a static string,
// "mpi"), group, rank, op, sequence number, size and dtype of `t` (may be null)
// and timeout. Cheap: no allocation for group names up to 15 characters.
WorkInfo workInfo(const Communicator& comm, const char* backend, OpType op, uint64_t seq, const at::Tensor* t,
                  Millis timeout);

}  // namespace detail
}  // namespace autoglm::comm
