#include "parallel/data_parallel/gradient_reducer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/finite.h"
#include "parallel/data_parallel/bucket_assignment.h"

namespace autoglm::parallel::data_parallel {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

GradientReducer::GradientReducer(std::vector<at::Tensor> params, std::shared_ptr<comm::Communicator> comm,
                                 std::unique_ptr<compression::Compressor> compressor, ReducerOptions opts)
    : comm_(std::move(comm)), compressor_(std::move(compressor)), opts_(std::move(opts)) {
  AUTOGLM_CHECK(comm_ != nullptr && compressor_ != nullptr, "GradientReducer needs a communicator and a compressor");
  for (auto& p : params) {
    if (!p.requires_grad()) continue;
    if (p.scalar_type() != at::kFloat || !p.device().is_cpu()) {
      throw Error(detail::concat("GradientReducer: parameter ", params_.size(), " is ", p.toString(),
                                 "; only float32 CPU parameters are supported"));
    }
    orig_index_.push_back(static_cast<int64_t>(&p - params.data()));
    params_.push_back(p);
  }
  slots_.resize(params_.size());
  std::vector<int64_t> numels, dense;  // bucketed parameters: their numels and indices
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t orig = orig_index_[i];
    if (std::find(opts_.row_sparse.begin(), opts_.row_sparse.end(), orig) != opts_.row_sparse.end()) {
      AUTOGLM_CHECK(params_[i].dim() == 2, "GradientReducer: row-sparse parameter ", orig, " is ",
                    params_[i].dim(), "-D; only tables [rows, dim] are");
      slots_[i].bucket = -1;
      sparse_slots_.push_back(i);
      continue;
    }
    numels.push_back(params_[i].numel());
    dense.push_back(static_cast<int64_t>(i));
  }
  const int64_t align = std::max<int64_t>(1, compressor_->alignment());
  for (auto& g : assignBuckets(numels, opts_.bucket_bytes)) {
    Bucket b;
    int64_t offset = 0;
    for (int64_t& i : g) {
      i = dense[static_cast<size_t>(i)];
      Slot& s = slots_[static_cast<size_t>(i)];
      const int64_t aligned = (offset + align - 1) / align * align;
      if (aligned > offset) b.gaps.emplace_back(offset, aligned - offset);
      offset = aligned;
      s.bucket = static_cast<int>(buckets_.size());
      s.offset = offset;
      s.numel = params_[static_cast<size_t>(i)].numel();
      offset += s.numel;
    }
    b.flat = at::zeros({offset}, at::TensorOptions().dtype(at::kFloat));
    b.params = std::move(g);
    buckets_.push_back(std::move(b));
  }
  used_ = at::zeros({static_cast<int64_t>(params_.size()) + 1}, at::TensorOptions().dtype(at::kInt));

  for (size_t i = 0; i < params_.size(); ++i) {
    hook_ids_.push_back(params_[i].register_hook([this, i](const at::Tensor& grad) { onGradient(i, grad); }));
  }
  thread_ = std::thread([this] { loop(); });
}

GradientReducer::~GradientReducer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hook_ids_[i]);
}

std::vector<int64_t> GradientReducer::bucketParams(int b) const { return buckets_.at(static_cast<size_t>(b)).params; }

void GradientReducer::beginBackward(bool sync, int64_t step) {
  in_backward_ = true;
  sync_ = sync;
  step_ = step;
  for (auto& s : slots_) s.seen = false;
  if (sync) {
    for (auto& b : buckets_) {
      b.pending = static_cast<int64_t>(b.params.size());
      b.launched = false;
    }
    next_launch_ = 0;
    sparse_pending_ = static_cast<int64_t>(sparse_slots_.size());
    std::lock_guard<std::mutex> lock(mu_);
    done_ = 0;
  }
}

void GradientReducer::onGradient(size_t index, const at::Tensor& grad) {
  if (!in_backward_) {
    throw Error("GradientReducer: a gradient arrived outside beginBackward()/finishStep() "
                "(call reducer.beginBackward() before every backward)");
  }
  Slot& s = slots_[index];
  if (s.bucket < 0) {
    // Kept as given (a sparse sum only concatenates); a copy, since autograd
    // may accumulate into the tensor it hands on.
    s.rows = s.filled ? s.rows + grad : grad.clone();
    s.filled = true;
    if (!sync_ || s.seen) return;
    s.seen = true;
    if (--sparse_pending_ == 0 && opts_.mode == ReducerMode::kOverlap) launchReady();
    return;
  }
  Bucket& b = buckets_[static_cast<size_t>(s.bucket)];
  at::Tensor view = b.flat.narrow(0, s.offset, s.numel);
  const at::Tensor g = grad.is_sparse() ? grad.to_dense() : grad;
  if (s.filled) {
    view.add_(g.reshape({-1}));
  } else {
    view.copy_(g.reshape({-1}));
    s.filled = true;
  }
  if (!sync_ || s.seen) return;
  s.seen = true;
  if (--b.pending == 0 && opts_.mode == ReducerMode::kOverlap) launchReady();
}

void GradientReducer::launchReady() {
  while (next_launch_ < numBuckets() && buckets_[static_cast<size_t>(next_launch_)].pending == 0) {
    enqueue(next_launch_++);
  }
  if (next_launch_ == numBuckets() && !sparse_slots_.empty() && sparse_pending_ == 0) enqueue(next_launch_++);
}

void GradientReducer::enqueue(int bucket) {
  if (bucket < numBuckets()) buckets_[static_cast<size_t>(bucket)].launched = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(bucket);
  }
  cv_.notify_all();
}

void GradientReducer::loop() {
  for (;;) {
    int item = 0;
    int64_t step = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = queue_.front();
      queue_.pop_front();
      step = step_;
      if (error_) {  // an earlier item failed: finishStep() rethrows it
        ++done_;
        cv_.notify_all();
        continue;
      }
    }
    const auto t0 = Clock::now();
    std::exception_ptr error;
    try {
      if (item == numBuckets()) {
        reduceRows();
      } else {
        reduceBucket(item, step);
      }
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.busy_seconds += secondsSince(t0);
      if (error && !error_) error_ = error;
      ++done_;
    }
    cv_.notify_all();
  }
}

void GradientReducer::reduceBucket(int bucket, int64_t step) {
  at::Tensor& flat = buckets_[static_cast<size_t>(bucket)].flat;
  // The last reduce left averaged values in the padding.
  for (const auto& [offset, length] : buckets_[static_cast<size_t>(bucket)].gaps) {
    flat.narrow(0, offset, length).zero_();
  }
  // A NaN or inf must not enter the compressor's residuals: zero the bucket
  // (every rank still reduces it, so the collectives stay matched) and
  // report the first offending parameter.
  if (!core::allFinite(flat)) {
    int64_t bad = -1;
    for (int64_t i : buckets_[static_cast<size_t>(bucket)].params) {
      const Slot& s = slots_[static_cast<size_t>(i)];
      if (!core::allFinite(flat.narrow(0, s.offset, s.numel))) {
        bad = orig_index_[static_cast<size_t>(i)];
        break;
      }
    }
    flat.zero_();
    std::lock_guard<std::mutex> lock(mu_);
    if (nonfinite_param_ < 0) nonfinite_param_ = bad;
  }
  if (shape_source_ && compressor_->usesShape()) compressor_->setShape(bucket, bucketPrior(bucket));
  compressor_->reduce(bucket, flat, step, *comm_);
}

void GradientReducer::reduceRows() {
  at::NoGradGuard no_grad;
  for (size_t i : sparse_slots_) {
    Slot& s = slots_[i];
    // As for buckets: a non-finite row is zeroed before it travels, and named.
    if (s.rows.defined()) {
      const at::Tensor values = s.rows.is_sparse() ? s.rows._values() : s.rows;
      if (!core::allFinite(values)) {
        values.zero_();
        std::lock_guard<std::mutex> lock(mu_);
        if (nonfinite_param_ < 0) nonfinite_param_ = orig_index_[i];
      }
    }
    s.rows = reduceRowSparse(s.rows, params_[i].sizes(), *comm_, opts_.sparse_dense_fraction, sparse_stats_,
                             compressor_->rowWire());
  }
}

at::Tensor GradientReducer::bucketPrior(int bucket) const {
  const Bucket& b = buckets_[static_cast<size_t>(bucket)];
  at::Tensor prior = at::zeros_like(b.flat);
  for (int64_t i : b.params) {
    const Slot& s = slots_[static_cast<size_t>(i)];
    const at::Tensor m = shape_source_(orig_index_[static_cast<size_t>(i)]);
    if (!m.defined()) continue;
    if (m.numel() != s.numel) {
      throw Error(detail::concat("GradientReducer: the shape prior of parameter ", orig_index_[static_cast<size_t>(i)],
                                 " has ", m.numel(), " elements, the parameter ", s.numel));
    }
    prior.narrow(0, s.offset, s.numel).copy_(m.reshape({-1}));
  }
  return prior;
}

StepStatus GradientReducer::finishStep() {
  if (!in_backward_) throw Error("GradientReducer::finishStep() without beginBackward()");
  AUTOGLM_CHECK(sync_, "GradientReducer::finishStep() after a backward with sync=false");
  in_backward_ = false;
  ++stats_.steps;
  if (opts_.mode == ReducerMode::kOff) {
    for (auto& s : slots_) {
      s.filled = false;
      s.rows = at::Tensor();
    }
    return {};
  }
  const auto t0 = Clock::now();
  // Start, in order, what backward did not: buckets with parameters that got no
  // gradient (zeros stand in for them), or every bucket in after_backward mode.
  for (int b = next_launch_; b < numBuckets(); ++b) {
    Bucket& bucket = buckets_[static_cast<size_t>(b)];
    for (int64_t i : bucket.params) {
      Slot& s = slots_[static_cast<size_t>(i)];
      if (!s.filled) bucket.flat.narrow(0, s.offset, s.numel).zero_();
    }
    enqueue(b);
  }
  if (next_launch_ <= numBuckets() && !sparse_slots_.empty()) enqueue(numBuckets());
  next_launch_ = numItems();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ == static_cast<int64_t>(numItems()); });
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      lock.unlock();
      for (auto& s : slots_) {
        s.filled = false;
        s.rows = at::Tensor();
      }
      std::rethrow_exception(e);
    }
  }
  // Which parameters got a gradient on any rank, and whether any rank saw a
  // non-finite one.
  StepStatus status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status.nonfinite_param = nonfinite_param_;
    nonfinite_param_ = -1;
  }
  auto* used = used_.data_ptr<int32_t>();
  for (size_t i = 0; i < slots_.size(); ++i) used[i] = slots_[i].filled ? 1 : 0;
  used[slots_.size()] = status.nonfinite_param >= 0 ? 1 : 0;
  if (comm_->size() > 1) comm_->allreduce(used_, {comm::ReduceOp::kMax})->wait();
  status.nonfinite = used[slots_.size()] != 0;
  stats_.exposed_seconds += secondsSince(t0);

  for (size_t i = 0; i < params_.size(); ++i) {
    Slot& s = slots_[i];
    s.filled = false;
    at::Tensor& p = params_[i];
    if (s.bucket < 0) {
      if (used[i] != 0) p.mutable_grad() = s.rows;
      s.rows = at::Tensor();
      continue;
    }
    if (used[i] == 0) continue;
    at::Tensor avg = buckets_[static_cast<size_t>(s.bucket)].flat.narrow(0, s.offset, s.numel).view(p.sizes());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(avg);
    } else {
      p.mutable_grad() = avg.clone();
    }
  }
  return status;
}

}  // namespace autoglm::parallel::data_parallel
