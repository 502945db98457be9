#include "core/model/corpus_gcn.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace autoglm::core::model {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

template <typename T>
void spmmKernel(const int64_t* row_ptr, const int64_t* col, const float* val, const T* x, int64_t n, int64_t d,
                T* out) {
  at::parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      T* __restrict o = out + r * d;
      for (int64_t f = 0; f < d; ++f) o[f] = T(0);
      for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
        const T w = static_cast<T>(val[k]);
        const T* __restrict xr = x + col[k] * d;
        for (int64_t f = 0; f < d; ++f) o[f] += w * xr[f];
      }
    }
  });
}

at::Tensor spmm(const at::Tensor& row_ptr, const at::Tensor& col, const at::Tensor& val, const at::Tensor& x) {
  const at::Tensor xc = x.contiguous();
  const int64_t n = row_ptr.size(0) - 1, d = xc.size(1);
  at::Tensor out = at::empty({n, d}, xc.options());
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "corpus_spmm", [&] {
    spmmKernel<scalar_t>(row_ptr.data_ptr<int64_t>(), col.data_ptr<int64_t>(), val.data_ptr<float>(),
                         xc.data_ptr<scalar_t>(), n, d, out.data_ptr<scalar_t>());
  });
  return out;
}

struct SymmetricSpmm : public torch::autograd::Function<SymmetricSpmm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& row_ptr,
                            const at::Tensor& col, const at::Tensor& val) {
    ctx->save_for_backward({row_ptr, col, val});
    return spmm(row_ptr, col, val, x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto s = ctx->get_saved_variables();
    return {spmm(s[0], s[1], s[2], grad[0]), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

SymmetricCsr SymmetricCsr::of(const graph::CorpusGraph& g) {
  SymmetricCsr a;
  a.n = g.numNodes();
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  a.row_ptr = at::tensor(at::ArrayRef<int64_t>(g.row_ptr), i64);
  a.col = at::tensor(at::ArrayRef<int64_t>(g.col), i64);
  a.val = at::tensor(at::ArrayRef<float>(g.val), at::TensorOptions().dtype(at::kFloat));
  return a;
}

at::Tensor symmetricSpmm(const SymmetricCsr& a, const at::Tensor& x) {
  if (x.dim() != 2 || x.size(0) != a.n) {
    throw std::invalid_argument("symmetricSpmm: x must be [" + std::to_string(a.n) + ", d], got " + std::to_string(x.dim()) +
                     " dims with " + std::to_string(x.dim() > 0 ? x.size(0) : 0) + " rows");
  }
  return SymmetricSpmm::apply(x, a.row_ptr, a.col, a.val);
}

CorpusGcn::CorpusGcn(int64_t nodes, int64_t hidden, int64_t classes, double dropout) : dropout_(dropout) {
  // Glorot uniform, as TextGCN.
  const double r1 = std::sqrt(6.0 / static_cast<double>(nodes + hidden));
  const double r2 = std::sqrt(6.0 / static_cast<double>(hidden + classes));
  w1 = register_parameter("w1", at::empty({nodes, hidden}).uniform_(-r1, r1));
  w2 = register_parameter("w2", at::empty({hidden, classes}).uniform_(-r2, r2));
}

at::Tensor CorpusGcn::forward(const SymmetricCsr& a) {
  at::Tensor x = w1;
  if (is_training() && dropout_ > 0.0) {
    const at::Tensor keep = at::empty({w1.size(0), 1}, w1.options()).bernoulli_(1.0 - dropout_);
    x = x * keep / (1.0 - dropout_);
  }
  at::Tensor h = at::relu(symmetricSpmm(a, x));
  if (is_training() && dropout_ > 0.0) h = at::dropout(h, dropout_, true);
  return symmetricSpmm(a, at::mm(h, w2));
}

}  // namespace autoglm::core::model
