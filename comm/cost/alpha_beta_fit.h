#pragma once
// Fits a link's alpha (seconds per message) and beta (seconds per byte) to
// measured collective times: each sample (bytes, seconds) of a collective at
// `ranks` ranks over one link is t = a * alpha + b * beta with the
// coefficients of collective_cost.h (flatCoefficients). Least squares on the
// relative error (times span microseconds to seconds, so every size counts
// alike), alpha and beta kept >= 0.

#include <cstdint>
#include <vector>

#include "comm/cost/collective_cost.h"

namespace autoglm::comm::cost {

struct TimingSample {
  double bytes = 0.0;    // what collectiveSeconds() takes for this collective
  double seconds = 0.0;  // measured, > 0
};

struct AlphaBetaFit {
  LinkCost link;
  double median_relative_error = 0.0;  // |predicted - measured| / measured over the samples
  double max_relative_error = 0.0;
  int64_t samples = 0;
};

// Throws Error when there are fewer than two samples, a sample's time is not
// > 0 or its bytes < 0, ranks < 2, or the samples cannot separate alpha from
// beta (all of one size).
AlphaBetaFit fitAlphaBeta(Collective kind, int64_t ranks, const std::vector<TimingSample>& samples);

}  // namespace autoglm::comm::cost
