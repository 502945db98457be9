#pragma once
// Bucketed gradient all-reduce over the data-parallel group, overlapped with
// backward (the reducer of PyTorch DDP, on our communicator and compressors).
//
//   GradientReducer reducer(model->parameters(), dp_comm, makeCompressor(cfg), opts);
//   for each step:
//     optimizer.zero_grad();
//     for each micro-batch m of the step:
//       reducer.beginBackward(/*sync=*/m is the last, step);
//       loss_m.backward();
//     reducer.finishStep();      // waits; every parameter's .grad is the group average
//     optimizer.step();
//
// Parameters are grouped into buckets of about `bucket_bytes`, in reverse order
// of registration (assignBuckets), each backed by one flat float32 buffer in
// which every parameter starts at a multiple of the compressor's alignment()
// (zero padding between). A hook on every parameter copies its gradient into
// the buffer; once all of a bucket's parameters reported, the
// bucket is handed to the reducer's synchronisation thread, which runs the
// compressor's (possibly multi-stage) reduction while backward continues.
// Buckets start in index order on every rank, so all ranks issue the same
// collectives in the same order.
//
// Row-sparse parameters (ReducerOptions::row_sparse) stay out of the buckets:
// their gradients (sparse COO) are summed over the step's micro-batches and,
// once every bucket has started, reduced as rows on the same thread
// (reduceRowSparse), so that the collectives keep one order on every rank;
// finishStep() leaves a coalesced sparse gradient over the union of the rows
// any rank touched. Their rows travel as the compressor's rowWire() type.
//
// Parameters that get no gradient in a step (unused heads, ...) do not hang the
// step: finishStep() starts the buckets still waiting, with zeros for them, and
// a parameter that got no gradient on any rank keeps no gradient (as in one
// process). Micro-batches with sync=false only accumulate into the buffers.

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/data_parallel/reducer_options.h"
#include "parallel/data_parallel/row_sparse.h"

namespace autoglm::parallel::data_parallel {

// What finishStep() found besides the averages.
struct StepStatus {
  // Some rank's gradient held a NaN or inf. Its buckets were zeroed before they
  // reached the compressor (so no residual takes the value in), and the caller
  // must not apply the step.
  bool nonfinite = false;
  // The first such parameter on this rank (index into the constructor's list),
  // or -1 when the non-finite values were on another rank.
  int64_t nonfinite_param = -1;
};

// Seconds and counts since construction, for logs and benchmarks.
struct ReducerStats {
  int64_t steps = 0;
  double busy_seconds = 0.0;     // synchronisation thread reducing buckets
  double exposed_seconds = 0.0;  // finishStep() waiting for buckets after backward
};

class GradientReducer {
 public:
  GradientReducer(std::vector<at::Tensor> params, std::shared_ptr<comm::Communicator> comm,
                  std::unique_ptr<compression::Compressor> compressor, ReducerOptions opts = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before each backward. sync: this backward ends the step (its buckets are
  // reduced); step: the optimizer step the gradients belong to (compressor warm-up).
  void beginBackward(bool sync, int64_t step);
  // After the last backward of the step: reduces what has not started, waits
  // for every bucket and writes the averaged gradients into the parameters.
  // Rethrows a failure of the reduction.
  StepStatus finishStep();

  // For a compressor that usesShape(): `source(i)` gives the magnitude prior of
  // parameter i (index into the constructor's list; the parameter's shape or
  // numel, >= 0, the same on every rank; undefined when unknown, read as
  // zeros). Called from the synchronisation thread during backward, before
  // each bucket's reduce(), so it must not read what backward writes.
  using ShapeSource = std::function<at::Tensor(int64_t param)>;
  void setShapeSource(ShapeSource source) { shape_source_ = std::move(source); }

  int numBuckets() const { return static_cast<int>(buckets_.size()); }
  // Parameter indices (into the constructor's list) of bucket b, in bucket order.
  std::vector<int64_t> bucketParams(int b) const;
  int64_t bucketNumel(int b) const { return buckets_[static_cast<size_t>(b)].flat.numel(); }
  const ReducerStats& stats() const { return stats_; }
  // Rows and bytes of the row-sparse parameters since construction (read
  // between steps).
  const RowSparseStats& rowSparseStats() const { return sparse_stats_; }
  compression::Compressor& compressor() { return *compressor_; }
  comm::Communicator& communicator() { return *comm_; }

 private:
  struct Slot {  // one parameter
    int bucket = 0;       // -1: row-sparse
    at::Tensor rows;      // row-sparse: this step's gradient so far, then its reduction
    int64_t offset = 0;
    int64_t numel = 0;
    bool filled = false;  // gradient written since the last finishStep
    bool seen = false;    // hook ran in the current backward
  };
  struct Bucket {
    at::Tensor flat;
    std::vector<int64_t> params;
    std::vector<std::pair<int64_t, int64_t>> gaps;  // (offset, length) of alignment padding, zeroed each step
    int64_t pending = 0;  // parameters of the current sync backward not reported yet
    bool launched = false;
  };

  void onGradient(size_t index, const at::Tensor& grad);
  void launchReady();  // starts consecutive complete buckets, in order (caller holds no lock)
  void enqueue(int bucket);
  void loop();
  int numItems() const { return numBuckets() + (sparse_slots_.empty() ? 0 : 1); }
  void reduceBucket(int bucket, int64_t step);
  void reduceRows();  // the row-sparse item, on the synchronisation thread
  at::Tensor bucketPrior(int bucket) const;  // shape_source_ over a bucket's parameters, zeros in gaps

  std::vector<at::Tensor> params_;
  std::shared_ptr<comm::Communicator> comm_;
  std::unique_ptr<compression::Compressor> compressor_;
  ReducerOptions opts_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hook_ids_;
  // int32 per parameter: got a gradient this step; then one flag: this rank saw
  // a non-finite gradient (all-reduced with max).
  at::Tensor used_;
  std::vector<int64_t> orig_index_;  // params_[i] is the constructor's orig_index_[i]
  ShapeSource shape_source_;
  int64_t nonfinite_param_ = -1;     // under mu_: first non-finite parameter this step

  bool in_backward_ = false;
  bool sync_ = false;
  int64_t step_ = 0;
  int next_launch_ = 0;  // next bucket to start, in order; numBuckets(): the row-sparse item
  std::vector<size_t> sparse_slots_;
  int64_t sparse_pending_ = 0;  // row-sparse parameters of the current sync backward not reported yet
  RowSparseStats sparse_stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> queue_;
  int64_t done_ = 0;      // buckets reduced this step
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
  ReducerStats stats_;
};

}  // namespace autoglm::parallel::data_parallel
