#include "comm/cost/alpha_beta_fit.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace autoglm::comm::cost {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

AlphaBetaFit fitAlphaBeta(Collective kind, int64_t ranks, const std::vector<TimingSample>& samples) {
  AUTOGLM_CHECK(ranks >= 2, "alpha-beta fit of ", core::enumName(kind), ": ranks=", ranks, ": need at least 2");
  AUTOGLM_CHECK(samples.size() >= 2, "alpha-beta fit of ", core::enumName(kind), ": ", samples.size(),
                " sample(s): need at least 2 message sizes");
  // Rows scaled by 1/t: minimise sum ((a alpha + b beta) / t - 1)^2.
  double saa = 0, sab = 0, sbb = 0, sa = 0, sb = 0;
  double min_bytes = samples[0].bytes, max_bytes = samples[0].bytes;
  for (size_t i = 0; i < samples.size(); ++i) {
    const TimingSample& s = samples[i];
    AUTOGLM_CHECK(s.seconds > 0.0 && std::isfinite(s.seconds) && s.bytes >= 0.0, "alpha-beta fit of ",
                  core::enumName(kind), ": sample ", i, " (", s.bytes, " bytes, ", s.seconds,
                  " s): need bytes >= 0 and a time > 0");
    const Coefficients c = flatCoefficients(kind, s.bytes, ranks);
    const double a = c.alpha / s.seconds, b = c.beta / s.seconds;
    saa += a * a;
    sab += a * b;
    sbb += b * b;
    sa += a;
    sb += b;
    min_bytes = std::min(min_bytes, s.bytes);
    max_bytes = std::max(max_bytes, s.bytes);
  }
  AUTOGLM_CHECK(max_bytes > min_bytes, "alpha-beta fit of ", core::enumName(kind),
                ": every sample has ", min_bytes, " bytes: need at least two message sizes");
  double alpha = 0, beta = 0;
  const double det = saa * sbb - sab * sab;
  if (det > 0) {
    alpha = (sa * sbb - sb * sab) / det;
    beta = (sb * saa - sa * sab) / det;
  }
  if (!(det > 0) || alpha < 0 || beta < 0) {
    // The best fit with one of them at zero.
    const double beta_only = sbb > 0 ? sb / sbb : 0.0;
    const double alpha_only = saa > 0 ? sa / saa : 0.0;
    auto residual = [&](double al, double be) {
      double r = 0;
      for (const TimingSample& s : samples) {
        const Coefficients c = flatCoefficients(kind, s.bytes, ranks);
        const double e = (c.alpha * al + c.beta * be) / s.seconds - 1.0;
        r += e * e;
      }
      return r;
    };
    if (residual(0.0, beta_only) <= residual(alpha_only, 0.0)) {
      alpha = 0.0;
      beta = beta_only;
    } else {
      alpha = alpha_only;
      beta = 0.0;
    }
  }
  AlphaBetaFit fit;
  fit.link = LinkCost{alpha, beta};
  fit.samples = static_cast<int64_t>(samples.size());
  std::vector<double> errors;
  for (const TimingSample& s : samples) {
    const Coefficients c = flatCoefficients(kind, s.bytes, ranks);
    errors.push_back(std::abs(c.alpha * alpha + c.beta * beta - s.seconds) / s.seconds);
  }
  fit.median_relative_error = median(errors);
  fit.max_relative_error = *std::max_element(errors.begin(), errors.end());
  return fit;
}

}  // namespace autoglm::comm::cost
