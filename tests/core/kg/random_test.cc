// core/kg/random: the portable math against libm, the Zipf sampler against
// its probabilities, and the keyed permutations as bijections.

#include "core/kg/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace autoglm::core::kg {
namespace {

TEST(PortableMath, LogAndExpAgreeWithLibm) {
  for (double x : {1e-300, 1e-10, 0.001, 0.5, 0.70710678, 1.0, 1.0000001, 2.0, 3.14159, 1e6, 5e7, 1e300}) {
    EXPECT_NEAR(portableLog(x), std::log(x), 4e-16 * std::max(1.0, std::abs(std::log(x)))) << x;
  }
  for (double x : {-700.0, -20.0, -1.0, -0.3, 0.0, 1e-9, 0.3, 1.0, 10.0, 300.0}) {
    EXPECT_NEAR(portableExp(x) / std::exp(x), 1.0, 4e-16 * std::max(1.0, std::abs(x))) << x;
  }
  EXPECT_EQ(portableExp(0.0), 1.0);
  EXPECT_EQ(portableLog(1.0), 0.0);
}

TEST(Rng, SameSeedSameStreamAndBelowStaysInRange) {
  Rng a(7, 1), b(7, 1), c(7, 2);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differ += x != c.next();
  }
  EXPECT_GT(differ, 95);
  std::vector<int> counts(3);
  for (int i = 0; i < 30000; ++i) ++counts[a.below(3)];
  for (int n : counts) EXPECT_NEAR(n, 10000, 400);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.uniform01(), 1.0);
}

// Frequencies of 200000 draws within 5 standard deviations of n p_k.
void expectZipf(uint64_t n, double exponent) {
  const ZipfSampler zipf(n, exponent);
  Rng rng(3);
  constexpr int kDraws = 200000;
  std::vector<int> counts(n);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t k = zipf.sample(rng);
    ASSERT_LT(k, n);
    ++counts[k];
  }
  double norm = 0;
  for (uint64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -exponent);
  for (uint64_t k = 0; k < n; ++k) {
    const double p = std::pow(static_cast<double>(k + 1), -exponent) / norm;
    EXPECT_NEAR(counts[k], kDraws * p, 5 * std::sqrt(kDraws * p * (1 - p)) + 1) << "n=" << n << " s=" << exponent
                                                                                  << " k=" << k;
  }
}

TEST(ZipfSampler, FrequenciesFollowThePowerLaw) {
  expectZipf(1, 1.1);
  expectZipf(2, 1.0);
  expectZipf(10, 1.0);
  expectZipf(50, 1.1);
  expectZipf(50, 0.5);
  expectZipf(20, 2.5);
}

TEST(KeyedPermutation, IsABijectionWithItsInverse) {
  for (uint64_t n : {1ull, 2ull, 3ull, 17ull, 64ull, 1000ull, 4097ull}) {
    const KeyedPermutation p(n, 99);
    std::vector<bool> hit(n);
    for (uint64_t x = 0; x < n; ++x) {
      const uint64_t y = p.forward(x);
      ASSERT_LT(y, n);
      EXPECT_FALSE(hit[y]) << "n=" << n << " x=" << x;
      hit[y] = true;
      EXPECT_EQ(p.inverse(y), x);
    }
  }
  // Another key, another order.
  const KeyedPermutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (uint64_t x = 0; x < 1000; ++x) same += a.forward(x) == b.forward(x);
  EXPECT_LT(same, 20);
}

}  // namespace
}  // namespace autoglm::core::kg
