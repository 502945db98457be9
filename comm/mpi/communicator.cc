#include "comm/mpi/communicator.h"

#include <ATen/Functions.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <climits>

#include "comm/mpi/check.h"
#include "comm/mpi/large_allreduce.h"
#include "core/error.h"

namespace autoglm::comm::mpi {
namespace {

using autoglm::detail::concat;

// Shape header sent before a point-to-point payload and exchanged by allgatherv.
constexpr int64_t kMagic = 0x4175746f474c4d31;  // "AutoGLM1"
constexpr int kMaxDims = 8;
constexpr int kHeaderLen = 3 + kMaxDims;
// User tag t uses MPI tags kTagBase + 2t (header) and kTagBase + 2t + 1 (payload),
// clear of the tags the large all-reduce uses.
constexpr int kTagBase = 16;
// batchP2P: payloads only, matched in order between each pair.
constexpr int kTagBatch = 3;

void writeHeader(const at::Tensor& t, int64_t* h, const char* what) {
  if (t.dim() > kMaxDims) {
    throw CommError(concat(what, ": tensor has ", t.dim(), " dimensions, at most ", kMaxDims,
                           " are supported"));
  }
  h[0] = kMagic;
  h[1] = static_cast<int64_t>(t.scalar_type());
  h[2] = t.dim();
  for (int i = 0; i < kMaxDims; ++i) h[3 + i] = i < t.dim() ? t.size(i) : 0;
}

std::vector<int64_t> headerShape(const int64_t* h) {
  return std::vector<int64_t>(h + 3, h + 3 + h[2]);
}

int toInt(int64_t v, const std::string& what) {
  if (v > INT_MAX) {
    throw CommError(concat(what, ": ", v, " exceeds the MPI count limit ", INT_MAX,
                           "; split the tensor"));
  }
  return static_cast<int>(v);
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, const CommConfig& cfg, std::string group_name)
    : cfg_(cfg), group_(std::move(group_name)) {
  int provided = 0;
  AUTOGLM_CHECK_MPI(MPI_Query_thread(&provided));
  if (provided < MPI_THREAD_MULTIPLE) {
    throw CommError("MpiCommunicator needs MPI initialised with MPI_THREAD_MULTIPLE; create an "
                    "autoglm::comm::mpi::Environment first");
  }
  AUTOGLM_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  start();
}

MpiCommunicator::MpiCommunicator(Adopt, MPI_Comm owned, const CommConfig& cfg, std::string group_name)
    : comm_(owned), cfg_(cfg), group_(std::move(group_name)) {
  start();
}

void MpiCommunicator::start() {
  AUTOGLM_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  AUTOGLM_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  if (cfg_.shm_allreduce && size_ > 1) {
    shm_ = ShmAllreduce::create(comm_, cfg_.shm_chunk_bytes, cfg_.shm_direct_max_bytes);
  }
  thread_ = std::thread([this] { loop(); });
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

WorkInfo MpiCommunicator::info(OpType op, const at::Tensor* t, Millis timeout) {
  return info(op, t, timeout, seq_.fetch_add(1, std::memory_order_relaxed) + 1);
}

WorkInfo MpiCommunicator::info(OpType op, const at::Tensor* t, Millis timeout, uint64_t seq) const {
  return comm::detail::workInfo(*this, "mpi", op, seq, t, timeout);
}

std::shared_ptr<Work> MpiCommunicator::enqueue(WorkInfo info, std::function<std::vector<at::Tensor>()> run) {
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
        if (!sends_pending) return;
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
    if (error) {
      task.work->fail(error);
    } else {
      task.work->finish(std::move(result));
    }
  }
}

void MpiCommunicator::pollSends(bool block) {
  std::vector<PendingSend> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(sends_);
  }
  if (pending.empty()) return;
  std::vector<PendingSend> left;
  for (auto& s : pending) {
    int done = 0;
    try {
      if (block) {
        AUTOGLM_CHECK_MPI(MPI_Waitall(2, s.reqs, MPI_STATUSES_IGNORE));
        done = 1;
      } else {
        AUTOGLM_CHECK_MPI(MPI_Testall(2, s.reqs, &done, MPI_STATUSES_IGNORE));
      }
    } catch (...) {
      s.work->fail(std::current_exception());
      continue;
    }
    if (done) {
      s.work->finish({});
    } else {
      left.push_back(std::move(s));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : left) sends_.push_back(std::move(s));
}

void MpiCommunicator::allreduceNow(at::Tensor& t, ReduceOp op) {
  if (size_ == 1) return;  // also kAvg: the average of one rank is its value
  const int64_t bytes = t.nbytes();
  if (shm_) {
    shm_->allreduce(t.data_ptr(), t.numel(), t.scalar_type(), op);
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
  comm::detail::checkTensor(tensor, c10::DeviceType::CPU, *this, "allreduce");
  comm::detail::checkReduce(tensor, opts.op, *this, "allreduce");
  const ReduceOp op = opts.op;
  uint64_t seq = 0;
  if (static_cast<int64_t>(tensor.nbytes()) <= cfg_.inline_max_bytes && claimInline(seq)) {
    // Idle and small: run on the caller's thread, no task or hand-off.
    std::exception_ptr error;
    try {
      allreduceNow(tensor, op);
    } catch (...) {
      error = std::current_exception();
    }
    releaseInline();
    WorkInfo wi = info(OpType::kAllreduce, &tensor, opts.timeout, seq);
    if (!error) return std::make_shared<Work>(std::move(wi), std::vector<at::Tensor>{tensor});
    auto work = std::make_shared<Work>(std::move(wi));
    work->fail(error);
    return work;
  }
  at::Tensor t = tensor;
  return enqueue(info(OpType::kAllreduce, &t, opts.timeout), [this, t, op]() mutable {
    allreduceNow(t, op);
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

std::shared_ptr<Work> MpiCommunicator::send(const at::Tensor& tensor, int dst, const SendOptions& opts) {
  comm::detail::checkTensor(tensor, c10::DeviceType::CPU, *this, "send");
  comm::detail::checkPeer(dst, *this, "send");
  comm::detail::checkTag(opts.tag, kMaxTag, *this, "send");
  PendingSend s;
  s.work = std::make_shared<Work>(info(OpType::kSend, &tensor, opts.timeout));
  s.keep_alive = tensor;
  s.header.reset(new int64_t[kHeaderLen]);
  writeHeader(tensor, s.header.get(), "send");
  const int bytes = toInt(tensor.nbytes(), "send bytes");
  AUTOGLM_CHECK_MPI(MPI_Isend(s.header.get(), kHeaderLen, MPI_INT64_T, dst, kTagBase + 2 * opts.tag,
                              comm_, &s.reqs[0]));
  AUTOGLM_CHECK_MPI(MPI_Isend(tensor.data_ptr(), bytes, MPI_BYTE, dst, kTagBase + 2 * opts.tag + 1,
                              comm_, &s.reqs[1]));
  auto work = s.work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sends_.push_back(std::move(s));
    new_send_ = true;
  }
  cv_.notify_all();
  return work;
}

std::shared_ptr<Work> MpiCommunicator::recv(int src, const RecvOptions& opts) {
  comm::detail::checkPeer(src, *this, "recv");
  comm::detail::checkTag(opts.tag, kMaxTag, *this, "recv");
  const int tag = opts.tag;
  WorkInfo wi = info(OpType::kRecv, nullptr, opts.timeout);
  const uint64_t seq = wi.seq;
  return enqueue(std::move(wi), [this, src, tag, seq]() {
    int64_t h[kHeaderLen];
    AUTOGLM_CHECK_MPI(MPI_Recv(h, kHeaderLen, MPI_INT64_T, src, kTagBase + 2 * tag, comm_, MPI_STATUS_IGNORE));
    if (h[0] != kMagic || h[2] < 0 || h[2] > kMaxDims ||
        !isSupportedDtype(static_cast<c10::ScalarType>(h[1]))) {
      throw CommError(comm::detail::opPrefix(*this, "recv", seq) +
                      concat("from rank ", src, " tag ", tag, ": malformed header (not sent by Communicator::send?)"));
    }
    at::Tensor t = at::empty(headerShape(h), at::TensorOptions().dtype(static_cast<c10::ScalarType>(h[1])));
    AUTOGLM_CHECK_MPI(MPI_Recv(t.data_ptr(), toInt(t.nbytes(), "recv bytes"), MPI_BYTE, src,
                               kTagBase + 2 * tag + 1, comm_, MPI_STATUS_IGNORE));
    return std::vector<at::Tensor>{t};
  });
}

std::shared_ptr<Work> MpiCommunicator::batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) {
  for (const auto& op : ops) {
    comm::detail::checkTensor(op.tensor, c10::DeviceType::CPU, *this, "batchP2P");
    comm::detail::checkPeer(op.peer, *this, "batchP2P");
  }
  auto list = std::make_shared<std::vector<P2POp>>(ops);
  return enqueue(info(OpType::kBatchP2P, nullptr, opts.timeout), [this, list]() {
    std::vector<MPI_Request> reqs(list->size(), MPI_REQUEST_NULL);
    for (size_t i = 0; i < list->size(); ++i) {
      P2POp& op = (*list)[i];
      const int bytes = toInt(op.tensor.nbytes(), "batchP2P bytes");
      if (op.kind == P2POp::Kind::kSend) {
        AUTOGLM_CHECK_MPI(MPI_Isend(op.tensor.data_ptr(), bytes, MPI_BYTE, op.peer, kTagBatch, comm_, &reqs[i]));
      } else {
        AUTOGLM_CHECK_MPI(MPI_Irecv(op.tensor.data_ptr(), bytes, MPI_BYTE, op.peer, kTagBatch, comm_, &reqs[i]));
      }
    }
    AUTOGLM_CHECK_MPI(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE));
    return std::vector<at::Tensor>{};
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
  return std::shared_ptr<Communicator>(new MpiCommunicator(Adopt{}, *out, cfg_, group_name));
}

void MpiCommunicator::runBlocking(const std::function<void(MPI_Comm)>& fn) {
  auto work = enqueue(info(OpType::kBroadcast, nullptr, Millis(cfg_.timeout_ms)), [this, &fn]() {
    fn(comm_);
    return std::vector<at::Tensor>{};
  });
  work->wait();
}

}  // namespace autoglm::comm::mpi
