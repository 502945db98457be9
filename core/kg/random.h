#pragma once
// Random draws that are the same on every platform, for the synthetic
// knowledge-graph generator: a SplitMix64 stream, uniform integers by
// rejection, Zipf ranks by rejection-inversion and keyed permutations of
// [0, n) (a Feistel network with cycle walking). Only IEEE-754 basic
// arithmetic is used (no libm, no std:: distributions, whose output is
// implementation-defined), and the library is built with -ffp-contract=off.

#include <cstdint>

namespace autoglm::core::kg {

// SplitMix64 stream (Steele, Lea and Flood): 2^64 period, seeded by any value.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // The stream `stream` of `seed`: streams of one seed do not overlap in practice.
  Rng(uint64_t seed, uint64_t stream);

  uint64_t next();
  // Uniform in [0, 1), 53 bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n >= 1, without modulo bias.
  uint64_t below(uint64_t n);

 private:
  uint64_t state_;
};

// Ranks 0..n-1 with P(k) proportional to (k + 1)^-exponent, exponent > 0, by
// Hörmann and Derflinger's rejection-inversion (as in Apache Commons RNG's
// RejectionInversionZipfSampler): O(1) memory and time per draw for any n.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double exponent);
  uint64_t sample(Rng& rng) const;
  uint64_t size() const { return n_; }

 private:
  double hIntegral(double x) const;
  double h(double x) const;
  double hIntegralInverse(double x) const;

  uint64_t n_;
  double exponent_;
  double h_integral_x1_ = 0, h_integral_n_ = 0, s_ = 0;
};

// A bijection of [0, n) chosen by `key`, O(1) memory: forward and inverse
// take a few 64-bit hashes (cycle walking visits under 4 values on average).
class KeyedPermutation {
 public:
  KeyedPermutation(uint64_t n, uint64_t key);
  uint64_t forward(uint64_t x) const;
  uint64_t inverse(uint64_t y) const;

 private:
  static constexpr int kRounds = 6;
  uint64_t encrypt(uint64_t x) const;
  uint64_t decrypt(uint64_t y) const;
  uint64_t round(uint64_t half, int i) const;

  uint64_t n_;
  int half_bits_ = 0;
  uint64_t mask_ = 0;
  uint64_t keys_[kRounds] = {};
};

// ln(x) for finite x > 0 and e^x, from + - * / and exact scalings only, so
// that every IEEE-754 platform gives the same bits (accurate to a few ulp).
double portableLog(double x);
double portableExp(double x);

}  // namespace autoglm::core::kg
