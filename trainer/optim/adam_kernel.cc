#include "trainer/optim/adam_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace autoglm::trainer {
namespace {

constexpr int64_t kGrainElems = 1 << 14;

// AdamStep's constants in the form the element loop uses.
struct Consts {
  float beta1, beta2, one_m_b1, one_m_b2, eps, wd, decay, bc2, inv_sqrt_bc2, step_size;
  bool decoupled, frozen;
};

Consts constsOf(const AdamStep& s) {
  return {s.beta1, s.beta2, 1.0f - s.beta1, 1.0f - s.beta2, s.eps, s.weight_decay, 1.0f - s.lr * s.weight_decay,
          static_cast<float>(s.bias_correction2), static_cast<float>(1.0 / std::sqrt(s.bias_correction2)),
          static_cast<float>(s.lr / s.bias_correction1), s.decoupled, s.frozen};
}

inline void adamElement(float& P, float grad, float& M, float& V, const Consts& c) {
  float param = P;
  if (c.decoupled) {
    param *= c.decay;
  } else {
    grad += c.wd * param;
  }
  const float mi = M * c.beta1 + grad * c.one_m_b1;
  float vi = V;
  if (!c.frozen) {
    vi = vi * c.beta2 + grad * grad * c.one_m_b2;
    V = vi;
  } else if (vi == 0.0f && grad != 0.0f) {
    vi = grad * grad * c.bc2;  // sqrt(vi / bc2) = |g|: the first step is about lr
    V = vi;
  }
  M = mi;
  const float denom = std::sqrt(vi) * c.inv_sqrt_bc2 + c.eps;
  P = param - c.step_size * (mi / denom);
}

int64_t rowGrain(int64_t width) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, width)); }

}  // namespace

void adamDense(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamStep& s) {
  float* P = p.data_ptr<float>();
  const float* G = g.data_ptr<float>();
  float* M = m.data_ptr<float>();
  float* V = v.data_ptr<float>();
  const Consts c = constsOf(s);
  at::parallel_for(0, p.numel(), kGrainElems, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) adamElement(P[i], G[i], M[i], V[i], c);
  });
}

void adamRowsExact(at::Tensor& p, const RowGrad& g, at::Tensor& m, at::Tensor& v, const AdamStep& s) {
  if (p.numel() == 0) return;
  float* P = p.data_ptr<float>();
  float* M = m.data_ptr<float>();
  float* V = v.data_ptr<float>();
  const int64_t* R = g.rows.data_ptr<int64_t>();
  const float* G = g.values.data_ptr<float>();
  const int64_t n = g.rows.numel(), width = p.numel() / p.size(0);
  const Consts c = constsOf(s);
  at::parallel_for(0, p.size(0), rowGrain(width), [&](int64_t begin, int64_t end) {
    int64_t k = std::lower_bound(R, R + n, begin) - R;  // the first touched row at or after `begin`
    for (int64_t r = begin; r < end; ++r) {
      const int64_t at = r * width;
      if (k < n && R[k] == r) {
        const float* row = G + k * width;
        for (int64_t j = 0; j < width; ++j) adamElement(P[at + j], row[j], M[at + j], V[at + j], c);
        ++k;
      } else {
        for (int64_t j = 0; j < width; ++j) adamElement(P[at + j], 0.0f, M[at + j], V[at + j], c);
      }
    }
  });
}

void adamRowsLazy(at::Tensor& p, const RowGrad& g, at::Tensor& m, at::Tensor& v, const AdamStep& s) {
  if (p.numel() == 0) return;
  float* P = p.data_ptr<float>();
  float* M = m.data_ptr<float>();
  float* V = v.data_ptr<float>();
  const int64_t* R = g.rows.data_ptr<int64_t>();
  const float* G = g.values.data_ptr<float>();
  const int64_t width = p.numel() / p.size(0);
  const Consts c = constsOf(s);
  at::parallel_for(0, g.rows.numel(), rowGrain(width), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t at = R[k] * width;
      const float* row = G + k * width;
      for (int64_t j = 0; j < width; ++j) adamElement(P[at + j], row[j], M[at + j], V[at + j], c);
    }
  });
}

}  // namespace autoglm::trainer
