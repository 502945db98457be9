#pragma once
// One data-parallel optimizer step, predicted by replaying the reducer's real
// plan on modelled costs (no formula for the whole step):
//
//   - the buckets are assignBuckets() over the dense parameters, in the order the
//     reducer registers them, each parameter starting at a multiple of the
//     compressor's alignment (gradient_reducer.cc);
//   - backward produces gradients last parameter first; a parameter's gradient is
//     ready once backward has done its share of the work, taken proportional to
//     the parameters' element counts unless per-parameter times are given;
//   - a bucket's collectives are the compressor's (compressor.h): none an
//     all-reduce of 4 n bytes, fp16/bf16 of 2 n, onebit a max all-reduce of one
//     byte per chunk (skip_zero_chunks), an all-to-all of its compressed parts and
//     an all-gather of one part (onebitLayout), topk an all-gather of 8 k bytes
//     per rank (k = targetCount(n, ratio): its volume grows with the ranks);
//   - the reducer's one synchronisation thread runs the buckets in order, each
//     when it is ready (overlap) or all after backward (after_backward);
//   - step = forward + max(backward end, last bucket end) + optimizer.
// The compressor's own compute (casts, sign packing, top-k selection) runs on the
// same thread before and after each bucket's collectives: `compress_s_per_element`
// seconds per gradient element (measured by `autoglm simulate --profile`), added
// to the bucket's time on that thread.

#include <cstdint>
#include <string>
#include <vector>

#include "comm/cost/collective_cost.h"
#include "parallel/data_parallel/compression/compression_config.h"
#include "parallel/data_parallel/reducer_options.h"

namespace autoglm::trainer::simulate {

// Seconds of one rank's step, measured or given, at its share of the batch.
struct ComputeTimes {
  double forward_s = 0.0;
  double backward_s = 0.0;
  double optimizer_s = 0.0;
  double total() const { return forward_s + backward_s + optimizer_s; }
};

struct DpStepInputs {
  std::vector<int64_t> param_numels;  // dense parameters, in registration order
  // Optional: backward seconds of each parameter's gradient (same order); empty =
  // compute.backward_s shared by element count.
  std::vector<double> param_backward_s;
  ComputeTimes compute;
  int64_t bucket_bytes = int64_t{25} << 20;
  parallel::data_parallel::ReducerMode mode = parallel::data_parallel::ReducerMode::kOverlap;
  parallel::data_parallel::compression::CompressionConfig compression;
  comm::cost::Topology dp;  // the data-parallel group: ranks, placement, links
  double compress_s_per_element = 0.0;  // the compressor's own work per element (>= 0)
  // The reducer's own passes over every gradient element when it has peers
  // (copy into the bucket, finiteness check, the average's division, copy
  // back): added to the step's compute from 2 ranks on.
  double reducer_s_per_element = 0.0;
  // The all-reduce's own sums (none, fp16, bf16): seconds per element added,
  // in the wire type, over the (p-1)/p of the bucket each rank reduces in a ring.
  double sum_s_per_element = 0.0;
};

struct BucketTiming {
  int64_t numel = 0;         // elements, alignment padding included
  double wire_bytes = 0.0;   // bytes this rank hands to the communicator
  double ready_s = 0.0;      // after the start of backward
  double start_s = 0.0;
  double end_s = 0.0;
};

struct DpStepPrediction {
  double step_s = 0.0;
  double compute_s = 0.0;        // forward + backward + optimizer (+ the reducer's passes)
  double communication_s = 0.0;  // the buckets' collectives and compressor work, summed (busy time)
  double compress_s = 0.0;       // of which the compressor's own work
  double exposed_s = 0.0;        // communication not hidden behind backward
  double wire_bytes = 0.0;       // per rank per step
  std::vector<BucketTiming> buckets;
};

// Throws ConfigError naming the field for inputs out of range (no parameters,
// negative times, param_backward_s of the wrong length).
DpStepPrediction predictDpStep(const DpStepInputs& in);

// One bucket of `numel` elements under `compression` over `dp`: its seconds and
// the bytes this rank hands to the communicator.
struct BucketCost {
  double seconds = 0.0;
  double wire_bytes = 0.0;
};
BucketCost bucketCost(int64_t numel, const parallel::data_parallel::compression::CompressionConfig& compression,
                      const comm::cost::Topology& dp);

}  // namespace autoglm::trainer::simulate
