#include "comm/mpi/communicator.h"

#include <ATen/Functions.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <climits>

#include "comm/mpi/check.h"
#include "comm/mpi/large_allreduce.h"
#include "comm/mpi/wire.h"
#include "core/hash.h"
#include "core/error.h"

namespace autoglm::comm::mpi {
namespace {

using autoglm::detail::concat;
using wire::headerShape;
using wire::kHeaderLen;
using wire::toInt;
using wire::writeHeader;

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, const CommConfig& cfg, std::string group_name,
                                 std::shared_ptr<CollectiveObserver> observer)
    : cfg_(cfg), group_(std::move(group_name)), observer_(std::move(observer)) {
  int provided = 0;
  AUTOGLM_CHECK_MPI(MPI_Query_thread(&provided));
  if (provided < MPI_THREAD_MULTIPLE) {
    throw CommError("MpiCommunicator needs MPI initialised with MPI_THREAD_MULTIPLE; create an "
                    "autoglm::comm::mpi::Environment first");
  }
  AUTOGLM_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  start();
}

MpiCommunicator::MpiCommunicator(Adopt, MPI_Comm owned, const CommConfig& cfg, std::string group_name,
                                 std::shared_ptr<CollectiveObserver> observer)
    : comm_(owned), cfg_(cfg), group_(std::move(group_name)), observer_(std::move(observer)) {
  start();
}

void MpiCommunicator::start() {
  AUTOGLM_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  AUTOGLM_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  if (cfg_.shm_allreduce && size_ > 1) {
    shm_ = ShmAllreduce::create(comm_, cfg_.shm_chunk_bytes, cfg_.shm_direct_max_bytes);
  }
  if (observer_) {
    // Members by world rank: the same list, and so the same id, on every member.
    MPI_Group mine = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
    AUTOGLM_CHECK_MPI(MPI_Comm_group(comm_, &mine));
    AUTOGLM_CHECK_MPI(MPI_Comm_group(MPI_COMM_WORLD, &world));
    std::vector<int> local(static_cast<size_t>(size_)), members(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) local[static_cast<size_t>(r)] = r;
    AUTOGLM_CHECK_MPI(MPI_Group_translate_ranks(mine, size_, local.data(), world, members.data()));
    MPI_Group_free(&mine);
    MPI_Group_free(&world);
    core::Fnv1a h;
    h.add(group_);
    for (int m : members) h.addValue(m);
    group_id_ = h.value();
    observer_->onGroup(group_id_, group_, members);
  }
  thread_ = std::thread([this] { loop(); });
}

MpiCommunicator::~MpiCommunicator() {
  std::unique_lock<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
  // The thread may be stuck in an MPI call whose peers are gone (after a
  // timeout): wait for it at most the operation timeout, then leave it (and the
  // MPI communicator) to the process's exit rather than hang.
  const bool done = cv_.wait_for(lock, Millis(cfg_.timeout_ms), [this] { return thread_done_; });
  lock.unlock();
  if (!done) {
    if (thread_.joinable()) thread_.detach();
    return;
  }
  if (thread_.joinable()) thread_.join();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && !broken_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::checkUsable(const char* what) const {
  if (!broken_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(broken_mu_);
  throw CommError(comm::detail::opPrefix(*this, what) + "the communicator is unusable since " + broken_why_);
}

void MpiCommunicator::failBroken(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(broken_mu_);
    if (!broken_) broken_why_ = why;
    broken_.store(true, std::memory_order_release);
  }
  throw CommError(why + "; the communicator is unusable");
}

uint64_t MpiCommunicator::nextSeq() { return seq_.fetch_add(1, std::memory_order_relaxed) + 1; }

WorkInfo MpiCommunicator::info(OpType op, const at::Tensor* t, Millis timeout) {
  return info(op, t, timeout, nextSeq());
}

WorkInfo MpiCommunicator::info(OpType op, const at::Tensor* t, Millis timeout, uint64_t seq, int64_t bytes,
                               int peer) const {
  WorkInfo wi =
      comm::detail::workInfo(*this, "mpi", op, seq, t, timeout.count() > 0 ? timeout : Millis(cfg_.timeout_ms));
  if (bytes >= 0) wi.bytes = bytes;
  wi.peer = peer;
  if (observer_) observer_->onIssue(group_id_, wi);
  return wi;
}

void MpiCommunicator::observeComplete(const Work& work, bool ok) const {
  if (observer_) observer_->onComplete(group_id_, work.info(), ok);
}

std::shared_ptr<Work> MpiCommunicator::enqueue(WorkInfo info, std::function<std::vector<at::Tensor>()> run) {
  checkUsable(toString(info.op));
  auto work = std::make_shared<Work>(std::move(info));
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Task{work, std::move(run)});
    state_.fetch_add(kPendingOne, std::memory_order_seq_cst);
  }
  cv_.notify_all();
  return work;
}

bool MpiCommunicator::claimInline(uint64_t& seq) {
  // Nothing queued, running or inline: one compare-and-swap, no lock. A task
  // queued from now on waits for kInline to clear (loop() checks it).
  uint32_t idle = 0;
  if (!state_.compare_exchange_strong(idle, kInline, std::memory_order_seq_cst)) return false;
  seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  return true;
}

void MpiCommunicator::releaseInline() {
  const uint32_t left = state_.fetch_sub(kInline, std::memory_order_seq_cst) - kInline;
  // Work queued meanwhile: the thread may have seen kInline and gone to sleep.
  // Taking the lock orders this wake-up after its check (no lost wake-up); with
  // nothing queued, no lock and no wake-up (a context switch per call).
  if (left != 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }
}

void MpiCommunicator::loop() {
  for (;;) {
    Task task;
    bool have = false;
    bool sends_pending = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto runnable = [this] { return !queue_.empty() && (state_.load() & kInline) == 0; };
      auto ready = [&] { return stop_ || runnable() || new_send_; };
      if (sends_.empty()) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_for(lock, std::chrono::microseconds(50), ready);
      }
      new_send_ = false;
      if (runnable()) {
        task = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
      if (!have && stop_) {
        sends_pending = !sends_.empty();
        if (!sends_pending) {
          thread_done_ = true;
          cv_.notify_all();
          return;
        }
      }
    }
    pollSends(sends_pending);
    if (!have) continue;
    std::vector<at::Tensor> result;
    std::exception_ptr error;
    try {
      result = task.run();
    } catch (...) {
      error = std::current_exception();
    }
    // Idle before the waiter wakes up, so that its next small all-reduce can run inline.
    state_.fetch_sub(kPendingOne, std::memory_order_seq_cst);
    observeComplete(*task.work, !error);
    if (error) {
      task.work->fail(error);
    } else {
      task.work->finish(std::move(result));
    }
  }
}

void MpiCommunicator::allreduceNow(at::Tensor& t, ReduceOp op, uint64_t seq, Millis timeout, bool inline_call) {
  if (size_ == 1) return;  // also kAvg: the average of one rank is its value
  const int64_t bytes = t.nbytes();
  const auto start = std::chrono::steady_clock::now();
  if (shm_) {
    try {
      shm_->allreduce(t.data_ptr(), t.numel(), t.scalar_type(), op, start + timeout);
    } catch (const ShmAllreduce::Timeout& e) {
      failBroken(comm::detail::opPrefix(*this, "allreduce", seq) +
                 concat("timed out after ", timeout.count() + static_cast<int64_t>(e.waited_ms),
                        " ms waiting for rank ", e.peer, " in the shared-memory all-reduce (", t.numel(), " ",
                        c10::toString(t.scalar_type()), ")"));
    }
  } else if (inline_call && t.numel() > 0) {
    // On the caller's thread: a request polled against the deadline, so that a
    // peer that never comes is reported instead of blocking forever.
    MPI_Request req = MPI_REQUEST_NULL;
    AUTOGLM_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), toInt(t.numel(), "allreduce element count"),
                                     mpiDatatype(t.scalar_type()), ops_.get(t.scalar_type(), op), comm_, &req));
    for (int done = 0, polls = 0; !done; ++polls) {
      AUTOGLM_CHECK_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
      if (!done && (polls & 63) == 63 && std::chrono::steady_clock::now() - start > timeout) {
        failBroken(comm::detail::opPrefix(*this, "allreduce", seq) +
                   concat("timed out after ", timeout.count(), " ms (", t.numel(), " ",
                          c10::toString(t.scalar_type()), "); some rank did not join"));
      }
    }
  } else if (t.numel() > 0) {
    const MPI_Datatype type = mpiDatatype(t.scalar_type());
    const MPI_Op mop = ops_.get(t.scalar_type(), op);
    const bool large = cfg_.large_allreduce_threshold_bytes >= 0 &&
                       bytes >= cfg_.large_allreduce_threshold_bytes;
    if (large && cfg_.large_allreduce_algorithm == LargeAllreduceAlgorithm::kRing) {
      ringAllreduce(t.data_ptr(), t.numel(), t.scalar_type(), op, comm_,
                    cfg_.large_allreduce_chunk_bytes, scratch_);
    } else if (large) {
      chunkedAllreduce(t.data_ptr(), t.numel(), t.scalar_type(), type, mop, comm_,
                       cfg_.large_allreduce_chunk_bytes);
    } else {
      AUTOGLM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(),
                                      toInt(t.numel(), "allreduce element count"), type, mop, comm_));
    }
  }
  if (op == ReduceOp::kAvg) t.div_(size_);
}

std::shared_ptr<Work> MpiCommunicator::allreduce(at::Tensor& tensor, const AllreduceOptions& opts) {
  checkUsable("allreduce");
  comm::detail::checkTensor(tensor, c10::DeviceType::CPU, *this, "allreduce");
  comm::detail::checkReduce(tensor, opts.op, *this, "allreduce");
  const ReduceOp op = opts.op;
  uint64_t seq = 0;
  if (static_cast<int64_t>(tensor.nbytes()) <= cfg_.inline_max_bytes && claimInline(seq)) {
    // Idle and small: run on the caller's thread, no task or hand-off.
    WorkInfo wi = info(OpType::kAllreduce, &tensor, opts.timeout, seq);
    std::exception_ptr error;
    try {
      allreduceNow(tensor, op, seq, wi.timeout, /*inline_call=*/true);
    } catch (...) {
      error = std::current_exception();
    }
    releaseInline();
    if (!error) {
      auto work = std::make_shared<Work>(std::move(wi), std::vector<at::Tensor>{tensor});
      observeComplete(*work, true);
      return work;
    }
    auto work = std::make_shared<Work>(std::move(wi));
    observeComplete(*work, false);
    work->fail(error);
    return work;
  }
  at::Tensor t = tensor;
  WorkInfo wi = info(OpType::kAllreduce, &t, opts.timeout);
  const uint64_t s = wi.seq;
  const Millis timeout = wi.timeout;
  return enqueue(std::move(wi), [this, t, op, s, timeout]() mutable {
    allreduceNow(t, op, s, timeout, /*inline_call=*/false);
    return std::vector<at::Tensor>{t};
  });
}

std::shared_ptr<Work> MpiCommunicator::allgather(const at::Tensor& input, const AllgatherOptions& opts) {
  comm::detail::checkTensor(input, c10::DeviceType::CPU, *this, "allgather");
  std::vector<int64_t> shape{size_};
  for (int64_t s : input.sizes()) shape.push_back(s);
  at::Tensor out = at::empty(shape, input.options());
  at::Tensor in = input;
  return enqueue(info(OpType::kAllgather, &in, opts.timeout), [this, in, out]() {
    const int bytes = toInt(in.nbytes(), "allgather bytes per rank");
    AUTOGLM_CHECK_MPI(MPI_Allgather(in.data_ptr(), bytes, MPI_BYTE, out.data_ptr(), bytes, MPI_BYTE, comm_));
    return std::vector<at::Tensor>{out};
  });
}

std::shared_ptr<Work> MpiCommunicator::allgatherv(const at::Tensor& input, const AllgatherOptions& opts) {
  comm::detail::checkTensor(input, c10::DeviceType::CPU, *this, "allgatherv");
  auto header = std::make_shared<std::vector<int64_t>>(kHeaderLen);
  writeHeader(input, header->data(), "allgatherv");
  at::Tensor in = input;
  WorkInfo wi = info(OpType::kAllgatherv, &in, opts.timeout);
  const uint64_t seq = wi.seq;
  return enqueue(std::move(wi), [this, in, header, seq]() {
    std::vector<int64_t> all(static_cast<size_t>(kHeaderLen) * size_);
    AUTOGLM_CHECK_MPI(MPI_Allgather(header->data(), kHeaderLen, MPI_INT64_T, all.data(), kHeaderLen,
                                    MPI_INT64_T, comm_));
    const auto esize = static_cast<int64_t>(in.element_size());
    std::vector<int> counts(size_), displs(size_);
    std::vector<std::vector<int64_t>> shapes(size_);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      const int64_t* h = all.data() + static_cast<size_t>(r) * kHeaderLen;
      comm::detail::checkPeerDtype(r, static_cast<c10::ScalarType>(h[1]), in.scalar_type(), *this, "allgatherv", seq);
      shapes[r] = headerShape(h);
      int64_t n = 1;
      for (int64_t s : shapes[r]) n *= s;
      counts[r] = toInt(n * esize, "allgatherv bytes per rank");
      displs[r] = toInt(total * esize, "allgatherv total bytes");
      total += n;
    }
    at::Tensor flat = at::empty({total}, in.options());
    AUTOGLM_CHECK_MPI(MPI_Allgatherv(in.data_ptr(), toInt(in.nbytes(), "allgatherv bytes"), MPI_BYTE,
                                     flat.data_ptr(), counts.data(), displs.data(), MPI_BYTE, comm_));
    std::vector<at::Tensor> out;
    int64_t off = 0;
    for (int r = 0; r < size_; ++r) {
      const int64_t n = counts[r] / esize;
      out.push_back(flat.narrow(0, off, n).view(shapes[r]));
      off += n;
    }
    return out;
  });
}

std::shared_ptr<Work> MpiCommunicator::reduceScatter(const at::Tensor& input,
                                                     const ReduceScatterOptions& opts) {
  comm::detail::checkTensor(input, c10::DeviceType::CPU, *this, "reduceScatter");
  comm::detail::checkReduce(input, opts.op, *this, "reduceScatter");
  comm::detail::checkDivisible(input, *this, "reduceScatter");
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape[0] /= size_;
  at::Tensor out = at::empty(shape, input.options());
  at::Tensor in = input;
  const ReduceOp op = opts.op;
  return enqueue(info(OpType::kReduceScatter, &in, opts.timeout), [this, in, out, op]() mutable {
    if (out.numel() > 0) {
      AUTOGLM_CHECK_MPI(MPI_Reduce_scatter_block(in.data_ptr(), out.data_ptr(),
                                                 toInt(out.numel(), "reduceScatter count"),
                                                 mpiDatatype(in.scalar_type()),
                                                 ops_.get(in.scalar_type(), op), comm_));
    }
    if (op == ReduceOp::kAvg && size_ > 1) out.div_(size_);
    return std::vector<at::Tensor>{out};
  });
}

std::shared_ptr<Work> MpiCommunicator::alltoall(const at::Tensor& input, const AlltoallOptions& opts) {
  comm::detail::checkTensor(input, c10::DeviceType::CPU, *this, "alltoall");
  comm::detail::checkDivisible(input, *this, "alltoall");
  const int count = toInt(input.numel() / size_, "alltoall elements per rank");
  const MPI_Datatype type = mpiDatatype(input.scalar_type());
  at::Tensor out = at::empty(input.sizes(), input.options());
  at::Tensor in = input;
  return enqueue(info(OpType::kAlltoall, &in, opts.timeout), [this, in, out, count, type]() {
    // Called with count 0 too: every rank must enter the collective.
    AUTOGLM_CHECK_MPI(MPI_Alltoall(in.data_ptr(), count, type, out.data_ptr(), count, type, comm_));
    return std::vector<at::Tensor>{out};
  });
}

std::shared_ptr<Work> MpiCommunicator::broadcast(at::Tensor& tensor, const BroadcastOptions& opts) {
  comm::detail::checkTensor(tensor, c10::DeviceType::CPU, *this, "broadcast");
  comm::detail::checkPeer(opts.root, *this, "broadcast root");
  at::Tensor t = tensor;
  const int root = opts.root;
  return enqueue(info(OpType::kBroadcast, &t, opts.timeout), [this, t, root]() {
    AUTOGLM_CHECK_MPI(MPI_Bcast(t.data_ptr(), toInt(t.nbytes(), "broadcast bytes"), MPI_BYTE, root, comm_));
    return std::vector<at::Tensor>{t};
  });
}

std::shared_ptr<Work> MpiCommunicator::barrier(const BarrierOptions& opts) {
  return enqueue(info(OpType::kBarrier, nullptr, opts.timeout), [this]() {
    AUTOGLM_CHECK_MPI(MPI_Barrier(comm_));
    return std::vector<at::Tensor>{};
  });
}

std::shared_ptr<Communicator> MpiCommunicator::split(int color, int key, const std::string& group_name) {
  if (color < 0) {
    throw CommError(comm::detail::opPrefix(*this, "split") +
                    concat("color ", color, " must be >= 0 (new group '", group_name, "')"));
  }
  auto out = std::make_shared<MPI_Comm>(MPI_COMM_NULL);
  auto work = enqueue(info(OpType::kSplit, nullptr, Millis(cfg_.timeout_ms)), [this, color, key, out]() {
    AUTOGLM_CHECK_MPI(MPI_Comm_split(comm_, color, key, out.get()));
    return std::vector<at::Tensor>{};
  });
  work->wait();
  return std::shared_ptr<Communicator>(new MpiCommunicator(Adopt{}, *out, cfg_, group_name, observer_));
}

void MpiCommunicator::runBlocking(const std::function<void(MPI_Comm)>& fn) {
  auto work = enqueue(info(OpType::kBroadcast, nullptr, Millis(cfg_.timeout_ms)), [this, &fn]() {
    fn(comm_);
    return std::vector<at::Tensor>{};
  });
  work->wait();
}

}  // namespace autoglm::comm::mpi
