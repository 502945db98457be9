#include "core/kg/random.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/splitmix.h"

namespace autoglm::core::kg {

namespace {

constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2, its upper 32 bits
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // ln 2 - kLn2Hi
constexpr double kLn2 = 6.93147180559945309417e-01;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kSqrtHalf = 7.07106781186547524401e-01;

// 2 atanh(z) = ln((1 + z) / (1 - z)) for |z| <= 0.25, by its odd series.
double twoAtanh(double z) {
  const double z2 = z * z;
  double sum = 0;
  for (int k = 31; k >= 1; k -= 2) sum = 1.0 / k + z2 * sum;
  return 2 * z * sum;
}

// e^x - 1 for |x| <= 0.35 by its Taylor series.
double expm1Series(double x) {
  double sum = 1;
  for (int k = 18; k >= 2; --k) sum = 1 + x * sum / k;
  return x * sum;
}

double portableLog1p(double x) {
  if (x > -0.4 && x < 0.4) return twoAtanh(x / (2 + x));
  return portableLog(1 + x);
}

double portableExpm1(double x) {
  if (x > -0.35 && x < 0.35) return expm1Series(x);
  return portableExp(x) - 1;
}

// ln(1 + x) / x and (e^x - 1) / x, continuous at 0.
double helper1(double x) { return std::abs(x) > 1e-8 ? portableLog1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x)); }
double helper2(double x) {
  return std::abs(x) > 1e-8 ? portableExpm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}

}  // namespace

double portableLog(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // exact: x = m 2^e, m in [0.5, 1)
  if (m < kSqrtHalf) {
    m *= 2;
    --e;
  }
  return e * kLn2 + twoAtanh((m - 1) / (m + 1));
}

double portableExp(double x) {
  if (x > 709.7) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0;
  const double k = std::floor(x * kInvLn2 + 0.5);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ln(2) / 2
  return std::ldexp(1 + expm1Series(r), static_cast<int>(k));
}

Rng::Rng(uint64_t seed, uint64_t stream) : state_(splitmix64(seed ^ splitmix64(stream + 0x5851f42d4c957f2dull))) {}

uint64_t Rng::next() {
  const uint64_t z = state_;
  state_ += 0x9e3779b97f4a7c15ull;
  return splitmix64(z);
}

uint64_t Rng::below(uint64_t n) {
  AUTOGLM_CHECK(n >= 1, "Rng::below(0)");
  if ((n & (n - 1)) == 0) return next() & (n - 1);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t x = next();
  while (x >= limit) x = next();
  return x % n;
}

ZipfSampler::ZipfSampler(uint64_t n, double exponent) : n_(n), exponent_(exponent) {
  AUTOGLM_CHECK(n >= 1 && exponent > 0, "ZipfSampler(n=", n, ", exponent=", exponent, ")");
  h_integral_x1_ = hIntegral(1.5) - 1;
  h_integral_n_ = hIntegral(static_cast<double>(n) + 0.5);
  s_ = 2 - hIntegralInverse(hIntegral(2.5) - h(2));
}

double ZipfSampler::hIntegral(double x) const {
  const double log_x = portableLog(x);
  return helper2((1 - exponent_) * log_x) * log_x;
}

double ZipfSampler::h(double x) const { return portableExp(-exponent_ * portableLog(x)); }

double ZipfSampler::hIntegralInverse(double x) const {
  double t = x * (1 - exponent_);
  if (t < -1) t = -1;
  return portableExp(helper1(t) * x);
}

uint64_t ZipfSampler::sample(Rng& rng) const {
  if (n_ == 1) return 0;
  const double n = static_cast<double>(n_);
  for (;;) {
    // u is uniform in (h_integral_x1_, h_integral_n_].
    const double u = h_integral_n_ + rng.uniform01() * (h_integral_x1_ - h_integral_n_);
    const double x = hIntegralInverse(u);
    double k = std::floor(x + 0.5);
    if (k < 1) k = 1;
    if (k > n) k = n;
    if (k - x <= s_ || u >= hIntegral(k + 0.5) - h(k)) return static_cast<uint64_t>(k) - 1;
  }
}

KeyedPermutation::KeyedPermutation(uint64_t n, uint64_t key) : n_(n) {
  AUTOGLM_CHECK(n >= 1 && n <= (1ull << 62), "KeyedPermutation over ", n, " values");
  int bits = 0;
  while ((1ull << bits) < n) ++bits;
  half_bits_ = (bits + 1) / 2;
  mask_ = (1ull << half_bits_) - 1;
  uint64_t k = key;
  for (uint64_t& rk : keys_) rk = k = splitmix64(k);
}

uint64_t KeyedPermutation::round(uint64_t half, int i) const { return splitmix64(half ^ keys_[i]) & mask_; }

uint64_t KeyedPermutation::encrypt(uint64_t x) const {
  uint64_t l = x >> half_bits_, r = x & mask_;
  for (int i = 0; i < kRounds; ++i) {
    const uint64_t next_r = l ^ round(r, i);
    l = r;
    r = next_r;
  }
  return (l << half_bits_) | r;
}

uint64_t KeyedPermutation::decrypt(uint64_t y) const {
  uint64_t l = y >> half_bits_, r = y & mask_;
  for (int i = kRounds - 1; i >= 0; --i) {
    const uint64_t prev_l = r ^ round(l, i);
    r = l;
    l = prev_l;
  }
  return (l << half_bits_) | r;
}

// Cycle walking: the network permutes [0, 2^(2 half_bits)); stepping until the
// value falls in [0, n) restricts it to a permutation of [0, n).
uint64_t KeyedPermutation::forward(uint64_t x) const {
  if (n_ == 1) return 0;
  do x = encrypt(x);
  while (x >= n_);
  return x;
}

uint64_t KeyedPermutation::inverse(uint64_t y) const {
  if (n_ == 1) return 0;
  do y = decrypt(y);
  while (y >= n_);
  return y;
}

}  // namespace autoglm::core::kg
