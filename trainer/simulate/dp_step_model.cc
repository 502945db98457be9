#include "trainer/simulate/dp_step_model.h"

#include <algorithm>

#include "core/error.h"
#include "parallel/data_parallel/bucket_assignment.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "parallel/data_parallel/compression/topk.h"

namespace autoglm::trainer::simulate {

namespace dp = parallel::data_parallel;
using dp::compression::CompressionType;

BucketCost bucketCost(int64_t numel, const dp::compression::CompressionConfig& compression,
                      const comm::cost::Topology& topo) {
  BucketCost c;
  const double n = static_cast<double>(numel);
  switch (compression.type) {
    case CompressionType::kNone:
      c.wire_bytes = 4.0 * n;
      c.seconds = comm::cost::allreduceSeconds(c.wire_bytes, topo);
      break;
    case CompressionType::kFp16:
    case CompressionType::kBf16:
      c.wire_bytes = 2.0 * n;
      c.seconds = comm::cost::allreduceSeconds(c.wire_bytes, topo);
      break;
    case CompressionType::kOnebit: {
      const auto layout = dp::compression::onebitLayout(numel, static_cast<int>(topo.ranks), compression.chunk_elems);
      const double part = static_cast<double>(layout.partBytes());
      if (compression.skip_zero_chunks) {
        const double flags = static_cast<double>(layout.ranks) * static_cast<double>(layout.chunks);
        c.wire_bytes += flags;
        c.seconds += comm::cost::allreduceSeconds(flags, topo);
      }
      c.wire_bytes += static_cast<double>(topo.ranks) * part + part;
      c.seconds += comm::cost::alltoallSeconds(part, topo) + comm::cost::allgatherSeconds(part, topo);
      break;
    }
    case CompressionType::kTopk: {
      const double k = static_cast<double>(dp::compression::topk::targetCount(numel, compression.ratio));
      c.wire_bytes = 8.0 * k;  // int32 index + float32 value per element
      c.seconds = comm::cost::allgatherSeconds(c.wire_bytes, topo);
      break;
    }
  }
  if (topo.ranks <= 1) c.seconds = 0.0;
  return c;
}

DpStepPrediction predictDpStep(const DpStepInputs& in) {
  if (in.param_numels.empty()) throw ConfigError("data-parallel step model: no dense parameters");
  if (in.compute.forward_s < 0 || in.compute.backward_s < 0 || in.compute.optimizer_s < 0 ||
      in.compress_s_per_element < 0 || in.reducer_s_per_element < 0 || in.sum_s_per_element < 0) {
    throw ConfigError("data-parallel step model: compute and compression times must be >= 0");
  }
  if (!in.param_backward_s.empty() && in.param_backward_s.size() != in.param_numels.size()) {
    throw ConfigError(detail::concat("data-parallel step model: param_backward_s has ", in.param_backward_s.size(),
                                   " entries for ", in.param_numels.size(), " parameters"));
  }
  in.dp.check();
  const size_t count = in.param_numels.size();
  // When each parameter's gradient is ready, backward running last to first.
  std::vector<double> share(count);
  if (!in.param_backward_s.empty()) {
    share = in.param_backward_s;
  } else {
    double total = 0;
    for (int64_t n : in.param_numels) total += static_cast<double>(n);
    for (size_t i = 0; i < count; ++i) {
      share[i] = total > 0 ? in.compute.backward_s * static_cast<double>(in.param_numels[i]) / total : 0.0;
    }
  }
  std::vector<double> ready(count);
  double t = 0;
  for (size_t j = count; j-- > 0;) {
    t += share[j];
    ready[j] = t;
  }
  const double backward_end = t;

  DpStepPrediction out;
  out.compute_s = in.compute.forward_s + backward_end + in.compute.optimizer_s;
  const bool communicate = in.mode != dp::ReducerMode::kOff && in.dp.ranks > 1;
  const int64_t align =
      in.compression.type == CompressionType::kOnebit ? std::max<int64_t>(1, in.compression.chunk_elems) : 1;
  double channel_free = 0;
  for (const auto& group : dp::assignBuckets(in.param_numels, in.bucket_bytes)) {
    BucketTiming b;
    int64_t offset = 0;
    for (int64_t i : group) {
      offset = (offset + align - 1) / align * align;
      offset += in.param_numels[static_cast<size_t>(i)];
      b.ready_s = std::max(b.ready_s, ready[static_cast<size_t>(i)]);
    }
    b.numel = offset;
    if (in.mode == dp::ReducerMode::kAfterBackward) b.ready_s = backward_end;
    BucketCost cost = communicate ? bucketCost(b.numel, in.compression, in.dp) : BucketCost{};
    double compress = communicate ? in.compress_s_per_element * static_cast<double>(b.numel) : 0.0;
    if (communicate && (in.compression.type == CompressionType::kNone || in.compression.type == CompressionType::kFp16 ||
                        in.compression.type == CompressionType::kBf16)) {
      const double p = static_cast<double>(in.dp.ranks);
      compress += in.sum_s_per_element * static_cast<double>(b.numel) * (p - 1.0) / p;
    }
    cost.seconds += compress;
    out.compress_s += compress;
    b.wire_bytes = cost.wire_bytes;
    b.start_s = std::max(b.ready_s, channel_free);
    b.end_s = b.start_s + cost.seconds;
    channel_free = b.end_s;
    out.communication_s += cost.seconds;
    out.wire_bytes += cost.wire_bytes;
    out.buckets.push_back(b);
  }
  out.exposed_s = std::max(0.0, channel_free - backward_end);
  if (communicate) {
    double elements = 0.0;
    for (int64_t n : in.param_numels) elements += static_cast<double>(n);
    out.compute_s += in.reducer_s_per_element * elements;
  }
  out.step_s = out.compute_s + out.exposed_s;
  return out;
}

}  // namespace autoglm::trainer::simulate
