#pragma once
// All-reduce through one shared-memory segment, for communicators whose ranks
// all run on one host (the MPI backend's fast path there).
//
// Against Open MPI 4.1's MPI_Allreduce (shared memory, CMA single copy) on the
// 2-core benchmark machine (benchmarks/collective/README.md): no matching, no
// temporary buffers, no system calls, and data moved in cache-sized chunks.
//
// Segment: per rank two counters (arrived, reduced) on their own cache lines,
// then two buffers, each of size()+1 slots of `chunk_bytes`: one input slot per
// rank and one output slot. Operation k uses buffer k % 2; a rank writes buffer
// k % 2 only after every rank arrived at k - 1, which each did after finishing
// k - 2, so a buffer is never overwritten while someone still reads it.
//
//  - direct (message <= direct_max_bytes; 4x that with more ranks than cores,
//    where every synchronisation costs a context switch): each rank copies its
//    message into its input slot, arrives, waits for all, and reduces all slots
//    itself (one synchronisation).
//  - chunked (larger): per chunk, each rank copies the parts of its chunk that
//    other ranks reduce into its input slot, arrives, reduces its own part
//    (1/size of the chunk) from all ranks into its tensor and copies it to the
//    output slot, marks it reduced, waits for all, and copies the other parts
//    from the output slot (two synchronisations; every byte read and written
//    about twice). Copies into the segment use non-temporal stores: a normal
//    store first pulls the line back from the peer core that read it last
//    (benchmarks/collective/README.md has the measurement).
//
// Every rank sums the inputs in rank order 0, 1, ..., so results are bitwise
// equal on all ranks. Waiting spins with a CPU pause, then yields the core; with
// more ranks than cores it yields at once. Calls are blocking and, like MPI
// collectives, must be made by every rank in the same order with the same count
// and dtype. Not thread-safe: the owning communicator runs one operation at a time.

#include <c10/core/ScalarType.h>
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/reduce_op.h"

namespace autoglm::comm::mpi {

class ShmAllreduce {
 public:
  // Collective over `comm`. Returns nullptr (on every rank) when the ranks are
  // not all on one host or the segment cannot be created or mapped on some rank;
  // the caller then uses MPI. Needs size(comm) > 1.
  static std::unique_ptr<ShmAllreduce> create(MPI_Comm comm, int64_t chunk_bytes, int64_t direct_max_bytes);
  // Unmaps the segment (local; the segment's name was unlinked at creation).
  ~ShmAllreduce();
  ShmAllreduce(const ShmAllreduce&) = delete;
  ShmAllreduce& operator=(const ShmAllreduce&) = delete;

  // Reduces `count` elements of `buf` in place over all ranks (kAvg as a sum; the
  // caller divides). Throws Timeout when a peer has not arrived by `deadline`;
  // the segment is then out of step and must not be used again.
  void allreduce(void* buf, int64_t count, c10::ScalarType dtype, ReduceOp op,
                 std::chrono::steady_clock::time_point deadline);

  struct Timeout {
    int peer;            // the rank not arrived
    double waited_ms;
  };

  int64_t chunkBytes() const { return chunk_bytes_; }

 private:
  ShmAllreduce(void* base, size_t bytes, int rank, int size, int64_t chunk_bytes, int64_t direct_max_bytes,
               int pauses);

  struct Flags;
  Flags& flags(int rank) const;
  uint8_t* slot(uint64_t seq, int index) const;  // index size_ = output slot
  void arrive(uint64_t seq);
  void markReduced(uint64_t seq);
  void waitArrived(uint64_t seq) const;
  void waitReduced(uint64_t seq) const;

  void direct(uint8_t* buf, int64_t count, c10::ScalarType dtype, ReduceOp op);
  void chunk(uint8_t* buf, int64_t count, c10::ScalarType dtype, ReduceOp op);

  std::chrono::steady_clock::time_point deadline_;  // of the operation in progress

  void* base_ = nullptr;
  size_t bytes_ = 0;
  int rank_ = 0;
  int size_ = 1;
  int64_t chunk_bytes_ = 0;
  int64_t direct_max_bytes_ = 0;
  int pauses_ = 0;  // CPU pauses before a waiting rank starts yielding
  size_t flags_bytes_ = 0;
  size_t buffer_bytes_ = 0;
  uint64_t seq_ = 0;  // operations (chunks) so far; equal on all ranks
  std::vector<uint8_t> scratch_;  // accumulator of ranks >= 2
};

}  // namespace autoglm::comm::mpi
