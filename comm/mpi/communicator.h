#pragma once
// MPI backend for CPU tensors.
//
// Progress: each communicator owns one communication thread that runs the
// queued operations in order with blocking MPI calls, so an operation advances
// whether or not the caller ever enters MPI again. Sends are posted (MPI_Isend)
// by the caller's thread at send() and completed by the communication thread.
// Open MPI 4.1 has no progress thread ("OMPI progress: no"): MPI_I* collectives
// advance only inside MPI calls. The thread makes blocking calls: nonblocking
// collectives (libnbc) advance only when tested and lost bandwidth
// (benchmarks/collective/README.md compares the designs).
//
// Small all-reduces (<= comm.inline_max_bytes) issued while the communicator is
// idle run on the caller's thread and return a completed Work: handing them to
// the thread costs several times MPI_Allreduce's own latency for small messages.
// That path claims the idle communicator with one compare-and-swap (no lock) and
// builds no task, only the Work and its result vector.
//
// All-reduce itself: when every rank of the communicator is on one host (and
// comm.shm_allreduce), through a shared-memory segment (shm_allreduce.h);
// otherwise MPI_Allreduce, or for large messages the paths of large_allreduce.h.
//
// Needs MPI_THREAD_MULTIPLE (see mpi::Environment).

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/comm_config.h"
#include "comm/communicator.h"
#include "comm/observer.h"
#include "comm/mpi/datatype.h"
#include "comm/mpi/shm_allreduce.h"

namespace autoglm::comm::mpi {

class MpiCommunicator final : public Communicator {
 public:
  // Duplicates `comm`; the caller keeps ownership of `comm`. observer (may be
  // null) is told about this communicator, its operations and its splits.
  MpiCommunicator(MPI_Comm comm, const CommConfig& cfg, std::string group_name = "world",
                  std::shared_ptr<CollectiveObserver> observer = nullptr);
  // Runs what is queued, joins the communication thread and frees the communicator.
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& groupName() const override { return group_; }
  std::string backendName() const override { return "mpi"; }

  std::shared_ptr<Work> allreduce(at::Tensor& tensor, const AllreduceOptions& opts) override;
  std::shared_ptr<Work> allgather(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> allgatherv(const at::Tensor& input, const AllgatherOptions& opts) override;
  std::shared_ptr<Work> reduceScatter(const at::Tensor& input, const ReduceScatterOptions& opts) override;
  std::shared_ptr<Work> alltoall(const at::Tensor& input, const AlltoallOptions& opts) override;
  std::shared_ptr<Work> broadcast(at::Tensor& tensor, const BroadcastOptions& opts) override;
  std::shared_ptr<Work> send(const at::Tensor& tensor, int dst, const SendOptions& opts) override;
  std::shared_ptr<Work> recv(int src, const RecvOptions& opts) override;
  // Every Isend/Irecv posted at once from the caller's thread; the
  // communication thread polls them, so no other operation waits behind them.
  std::shared_ptr<Work> batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& opts) override;
  std::shared_ptr<Communicator> split(int color, int key, const std::string& group_name) override;

  // Runs `fn(comm)` on the communication thread, in order with the collectives,
  // and blocks until it returned (NCCL bootstrap broadcasts its id this way).
  void runBlocking(const std::function<void(MPI_Comm)>& fn);

  static constexpr int kMaxTag = (1 << 14) - 1;

 private:
  struct Adopt {};
  MpiCommunicator(Adopt, MPI_Comm owned, const CommConfig& cfg, std::string group_name,
                  std::shared_ptr<CollectiveObserver> observer);
  void observeComplete(const Work& work, bool ok) const;
  void start();

  struct Task {
    std::shared_ptr<Work> work;
    std::function<std::vector<at::Tensor>()> run;
  };
  // Requests posted from the caller's thread (send, batchP2P) that the
  // communication thread polls until they complete.
  struct PendingSend {
    std::shared_ptr<Work> work;
    std::vector<at::Tensor> keep_alive;
    std::unique_ptr<int64_t[]> header;
    std::vector<MPI_Request> reqs;
  };
  void addPending(PendingSend s);

  // Takes the next sequence number.
  WorkInfo info(OpType op, const at::Tensor* t, Millis timeout);
  // bytes >= 0: what this rank sends, for an operation over several tensors
  // (t null); otherwise the bytes of t.
  WorkInfo info(OpType op, const at::Tensor* t, Millis timeout, uint64_t seq, int64_t bytes = -1, int peer = -1) const;
  uint64_t nextSeq();
  // Queues `run` for the communication thread.
  std::shared_ptr<Work> enqueue(WorkInfo info, std::function<std::vector<at::Tensor>()> run);
  // When the communicator is idle (nothing queued or running), marks the
  // caller's thread as running an operation, takes the next sequence number
  // into `seq` and returns true; releaseInline() ends it.
  bool claimInline(uint64_t& seq);
  void releaseInline();
  void loop();
  void pollSends(bool block);
  // inline: on the caller's thread (a nonblocking MPI all-reduce polled against
  // the deadline instead of a blocking one).
  void allreduceNow(at::Tensor& t, ReduceOp op, uint64_t seq, Millis timeout, bool inline_call);
  // Throws CommError when an earlier timeout left the communicator unusable.
  void checkUsable(const char* what) const;
  [[noreturn]] void failBroken(const std::string& why);

  MPI_Comm comm_ = MPI_COMM_NULL;
  CommConfig cfg_;
  std::string group_;
  int rank_ = 0;
  int size_ = 1;
  std::atomic<uint64_t> seq_{0};
  std::shared_ptr<CollectiveObserver> observer_;
  uint64_t group_id_ = 0;  // the observer's name for this communicator
  ReduceOps ops_;
  std::unique_ptr<ShmAllreduce> shm_;  // null: ranks on several hosts, or disabled
  std::vector<uint8_t> scratch_;  // ring all-reduce, communication thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  std::vector<PendingSend> sends_;
  bool stop_ = false;
  bool new_send_ = false;  // wakes the thread to start polling sends_
  // kInline (the caller runs a small all-reduce inline) plus kPendingOne per
  // task queued or running; 0 = idle. Increments under mu_ with the push.
  static constexpr uint32_t kInline = 1, kPendingOne = 2;
  std::atomic<uint32_t> state_{0};
  std::thread thread_;
  bool thread_done_ = false;  // under mu_: loop() returned
  // Set when an operation timed out inside the backend (the shared-memory
  // segment or an MPI request out of step): every later operation throws, and
  // the destructor does not wait for the communication thread.
  std::atomic<bool> broken_{false};
  mutable std::mutex broken_mu_;
  std::string broken_why_;
};

}  // namespace autoglm::comm::mpi
