#include "core/kg/kg_score.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/splitmix.h"

namespace autoglm::core::kg {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Complex coordinates of [*, dim] rows: the halves [re | im].
std::pair<at::Tensor, at::Tensor> halves(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return {x.narrow(-1, 0, h), x.narrow(-1, h, h)};
}

at::Tensor modulus(const at::Tensor& re, const at::Tensor& im) { return (re * re + im * im).clamp_min(1e-30).sqrt(); }

}  // namespace

ScoreFunction::ScoreFunction(KgScore kind, int64_t dim, double gamma) : kind_(kind), dim_(dim), gamma_(gamma) {
  if ((kind == KgScore::kComplEx || kind == KgScore::kRotatE) && dim % 2 != 0) {
    throw ConfigError("kg.dim must be even for complex and rotate (dim/2 complex coordinates); got " +
                      std::to_string(dim));
  }
}

int64_t ScoreFunction::relationWidth() const { return kind_ == KgScore::kRotatE ? dim_ / 2 : dim_; }

double ScoreFunction::initRange() const {
  return (gamma_ + 2.0) / static_cast<double>(kind_ == KgScore::kRotatE ? dim_ / 2 : dim_);
}

at::Tensor ScoreFunction::query(const at::Tensor& anchor, const at::Tensor& relation, bool predict_head) const {
  switch (kind_) {
    case KgScore::kTransEL1:
    case KgScore::kTransEL2: return predict_head ? anchor - relation : anchor + relation;
    case KgScore::kComplEx: {
      const auto [ar, ai] = halves(anchor);
      const auto [rr, ri] = halves(relation);
      if (!predict_head) return at::cat({ar * rr - ai * ri, ar * ri + ai * rr}, -1);
      // w = r conj(t); Re(e w) = e_re w_re - e_im w_im.
      return at::cat({rr * ar + ri * ai, -(ri * ar - rr * ai)}, -1);
    }
    case KgScore::kRotatE: {
      const auto [ar, ai] = halves(anchor);
      const at::Tensor phase = relation * (kPi / initRange());
      const at::Tensor c = at::cos(phase);
      const at::Tensor s = predict_head ? -at::sin(phase) : at::sin(phase);
      return at::cat({ar * c - ai * s, ar * s + ai * c}, -1);
    }
  }
  return anchor;
}

at::Tensor ScoreFunction::against(const at::Tensor& q, const at::Tensor& c) const {
  switch (kind_) {
    case KgScore::kComplEx: return at::matmul(q, c.t());
    case KgScore::kTransEL2: {
      const at::Tensor d2 = (q * q).sum(-1, true) + (c * c).sum(-1).unsqueeze(0) - 2.0 * at::matmul(q, c.t());
      return gamma_ - d2.clamp_min(1e-30).sqrt();
    }
    case KgScore::kTransEL1: return gamma_ - (q.unsqueeze(1) - c.unsqueeze(0)).abs().sum(-1);
    case KgScore::kRotatE: {
      const auto [qr, qi] = halves(q);
      const auto [cr, ci] = halves(c);
      return gamma_ - modulus(qr.unsqueeze(1) - cr.unsqueeze(0), qi.unsqueeze(1) - ci.unsqueeze(0)).sum(-1);
    }
  }
  return q;
}

at::Tensor ScoreFunction::paired(const at::Tensor& q, const at::Tensor& c) const {
  switch (kind_) {
    case KgScore::kComplEx: return (q * c).sum(-1);
    case KgScore::kTransEL2: return gamma_ - ((q - c) * (q - c)).sum(-1).clamp_min(1e-30).sqrt();
    case KgScore::kTransEL1: return gamma_ - (q - c).abs().sum(-1);
    case KgScore::kRotatE: {
      const auto [qr, qi] = halves(q);
      const auto [cr, ci] = halves(c);
      return gamma_ - modulus(qr - cr, qi - ci).sum(-1);
    }
  }
  return q;
}

at::Tensor ScoreFunction::n3(const at::Tensor& h, const at::Tensor& r, const at::Tensor& t) const {
  if (kind_ == KgScore::kComplEx) {
    const auto cubed = [](const at::Tensor& x) {
      const auto [re, im] = halves(x);
      return at::pow(re * re + im * im, 1.5).sum();
    };
    return cubed(h) + cubed(r) + cubed(t);
  }
  if (kind_ == KgScore::kRotatE) throw ConfigError("kg.n3 does not apply to rotate (its relations are phases): set 0");
  return at::pow(h.abs(), 3).sum() + at::pow(r.abs(), 3).sum() + at::pow(t.abs(), 3).sum();
}

void ScoreFunction::initRows(at::Tensor& rows, int64_t first, uint64_t seed, double init_scale) const {
  const int64_t n = rows.size(0), end = first + n;
  for (int64_t block = first / kInitBlock; block * kInitBlock < end; ++block) {
    const int64_t b0 = block * kInitBlock;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(block))));
    at::Tensor draw = at::empty({kInitBlock, rows.size(1)}, rows.options());
    if (kind_ == KgScore::kComplEx) {
      draw.normal_(0.0, 1.0, gen).mul_(init_scale);
    } else {
      draw.uniform_(-initRange(), initRange(), gen);
    }
    const int64_t lo = std::max(first, b0), hi = std::min(end, b0 + kInitBlock);
    rows.narrow(0, lo - first, hi - lo).copy_(draw.narrow(0, lo - b0, hi - lo));
  }
}

}  // namespace autoglm::core::kg
