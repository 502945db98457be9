#include "core/model/gat_attention.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>

#include "core/error.h"

namespace autoglm::core::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kGrain = 32;  // nodes per parallel task

template <typename T>
void forwardKernel(const T* x, const T* ssrc, const T* sdst, const T* ebias, const int64_t* src,
                   const int64_t* in_ptr, const T* mask, T slope, int64_t N, int64_t H, int64_t F,
                   T* alpha, T* out) {
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      const int64_t e0 = in_ptr[v], e1 = in_ptr[v + 1];
      T* o = out + v * H * F;
      for (int64_t i = 0; i < H * F; ++i) o[i] = T(0);
      if (e0 == e1) continue;
      for (int64_t h = 0; h < H; ++h) {
        const T sd = sdst[v * H + h];
        T zmax = -std::numeric_limits<T>::infinity();
        for (int64_t e = e0; e < e1; ++e) {
          T z = ssrc[src[e] * H + h] + sd;
          if (ebias != nullptr) z += ebias[e * H + h];
          z = z > T(0) ? z : z * slope;
          alpha[e * H + h] = z;
          zmax = z > zmax ? z : zmax;
        }
        T sum = T(0);
        for (int64_t e = e0; e < e1; ++e) {
          const T ez = std::exp(alpha[e * H + h] - zmax);
          alpha[e * H + h] = ez;
          sum += ez;
        }
        const T inv = T(1) / sum;
        for (int64_t e = e0; e < e1; ++e) alpha[e * H + h] *= inv;
      }
      for (int64_t e = e0; e < e1; ++e) {
        const T* xs = x + src[e] * H * F;
        for (int64_t h = 0; h < H; ++h) {
          T c = alpha[e * H + h];
          if (mask != nullptr) c *= mask[e * H + h];
          if (c == T(0)) continue;
          T* oh = o + h * F;
          const T* xh = xs + h * F;
          for (int64_t f = 0; f < F; ++f) oh[f] += c * xh[f];
        }
      }
    }
  });
}

template <typename T>
void backwardKernel(const T* x, const T* ssrc, const T* sdst, const T* ebias, const int64_t* src,
                    const int64_t* dst, const int64_t* in_ptr, const int64_t* out_ptr,
                    const int64_t* out_perm, const T* mask, const T* alpha, const T* gout, T slope,
                    int64_t N, int64_t H, int64_t F, T* dz, T* dx, T* dssrc, T* dsdst) {
  // Pass 1, by destination: gradient of the pre-activation logits (dz, which is
  // also edge_bias's gradient) and of s_dst.
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      const int64_t e0 = in_ptr[v], e1 = in_ptr[v + 1];
      const T* go = gout + v * H * F;
      for (int64_t e = e0; e < e1; ++e) {
        const T* xs = x + src[e] * H * F;
        for (int64_t h = 0; h < H; ++h) {
          T dot = T(0);
          const T* gh = go + h * F;
          const T* xh = xs + h * F;
          for (int64_t f = 0; f < F; ++f) dot += gh[f] * xh[f];
          if (mask != nullptr) dot *= mask[e * H + h];
          dz[e * H + h] = dot;  // d loss / d alpha for now
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        T s = T(0);
        for (int64_t e = e0; e < e1; ++e) s += alpha[e * H + h] * dz[e * H + h];
        const T sd = sdst[v * H + h];
        T acc = T(0);
        for (int64_t e = e0; e < e1; ++e) {
          const T dlogit = alpha[e * H + h] * (dz[e * H + h] - s);
          T zraw = ssrc[src[e] * H + h] + sd;
          if (ebias != nullptr) zraw += ebias[e * H + h];
          const T d = zraw > T(0) ? dlogit : dlogit * slope;
          dz[e * H + h] = d;
          acc += d;
        }
        dsdst[v * H + h] = acc;
      }
    }
  });
  // Pass 2, by source: gradient of x and of s_src.
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      T* dxu = dx + u * H * F;
      for (int64_t i = 0; i < H * F; ++i) dxu[i] = T(0);
      for (int64_t h = 0; h < H; ++h) dssrc[u * H + h] = T(0);
      for (int64_t k = out_ptr[u]; k < out_ptr[u + 1]; ++k) {
        const int64_t e = out_perm[k];
        const T* go = gout + dst[e] * H * F;
        for (int64_t h = 0; h < H; ++h) {
          dssrc[u * H + h] += dz[e * H + h];
          T c = alpha[e * H + h];
          if (mask != nullptr) c *= mask[e * H + h];
          if (c == T(0)) continue;
          T* dh = dxu + h * F;
          const T* gh = go + h * F;
          for (int64_t f = 0; f < F; ++f) dh[f] += c * gh[f];
        }
      }
    }
  });
}

// The data of an optional input (mask, edge bias); an empty tensor stands for "none".
template <typename T>
const T* optionalData(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

struct FusedGatAttention : public torch::autograd::Function<FusedGatAttention> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& s_src,
                               const at::Tensor& s_dst, const at::Tensor& edge_bias, const at::Tensor& src,
                               const at::Tensor& dst, const at::Tensor& in_ptr,
                               const at::Tensor& out_ptr, const at::Tensor& out_perm,
                               const at::Tensor& mask, double slope) {
    const int64_t N = x.size(0), H = x.size(1), F = x.size(2), E = src.size(0);
    auto xc = x.contiguous(), ssc = s_src.contiguous(), sdc = s_dst.contiguous();
    auto ebc = edge_bias.contiguous();  // [E,H], or empty
    auto out = at::empty({N, H, F}, x.options());
    auto alpha = at::empty({E, H}, x.options());
    // An empty mask tensor stands for "no attention dropout".
    at::Tensor maskc = mask.numel() > 0 ? mask.contiguous() : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gat_attention_forward", [&] {
      forwardKernel<scalar_t>(xc.data_ptr<scalar_t>(), ssc.data_ptr<scalar_t>(),
                              sdc.data_ptr<scalar_t>(), optionalData<scalar_t>(ebc),
                              src.data_ptr<int64_t>(), in_ptr.data_ptr<int64_t>(),
                              optionalData<scalar_t>(maskc),
                              static_cast<scalar_t>(slope), N, H, F, alpha.data_ptr<scalar_t>(),
                              out.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({xc, ssc, sdc, ebc, src, dst, in_ptr, out_ptr, out_perm, alpha});
    ctx->saved_data["slope"] = slope;
    ctx->saved_data["has_mask"] = maskc.defined();
    if (maskc.defined()) ctx->saved_data["mask"] = maskc;
    ctx->mark_non_differentiable({alpha});
    return {out, alpha};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &ssrc = saved[1], &sdst = saved[2], &ebias = saved[3],
                     &src = saved[4], &dst = saved[5], &in_ptr = saved[6], &out_ptr = saved[7],
                     &out_perm = saved[8], &alpha = saved[9];
    const double slope = ctx->saved_data["slope"].toDouble();
    at::Tensor mask;
    if (ctx->saved_data["has_mask"].toBool()) mask = ctx->saved_data["mask"].toTensor();
    const int64_t N = x.size(0), H = x.size(1), F = x.size(2), E = src.size(0);
    at::Tensor gout = grad_outputs[0];
    if (!gout.defined()) gout = at::zeros_like(x);
    gout = gout.contiguous();
    auto dz = at::empty({E, H}, x.options());
    auto dx = at::empty_like(x);
    auto dssrc = at::empty({N, H}, x.options());
    auto dsdst = at::empty({N, H}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gat_attention_backward", [&] {
      backwardKernel<scalar_t>(
          x.data_ptr<scalar_t>(), ssrc.data_ptr<scalar_t>(), sdst.data_ptr<scalar_t>(),
          optionalData<scalar_t>(ebias), src.data_ptr<int64_t>(), dst.data_ptr<int64_t>(), in_ptr.data_ptr<int64_t>(),
          out_ptr.data_ptr<int64_t>(), out_perm.data_ptr<int64_t>(),
          optionalData<scalar_t>(mask), alpha.data_ptr<scalar_t>(),
          gout.data_ptr<scalar_t>(), static_cast<scalar_t>(slope), N, H, F,
          dz.data_ptr<scalar_t>(), dx.data_ptr<scalar_t>(), dssrc.data_ptr<scalar_t>(),
          dsdst.data_ptr<scalar_t>());
    });
    // dL/dedge_bias[e,h] is dL/dz_pre[e,h], the quantity scattered into s_src and s_dst.
    const at::Tensor debias = ebias.numel() > 0 ? dz : at::Tensor();
    return {dx, dssrc, dsdst, debias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

AttentionResult referenceAttention(const at::Tensor& x, const at::Tensor& s_src,
                                   const at::Tensor& s_dst, const at::Tensor& edge_bias,
                                   const graph::GraphBatch& g, double slope, const at::Tensor& mask) {
  const int64_t N = x.size(0), H = x.size(1);
  at::Tensor zpre = s_src.index_select(0, g.src) + s_dst.index_select(0, g.dst);
  if (edge_bias.defined()) zpre = zpre + edge_bias;
  at::Tensor z = at::leaky_relu(zpre, slope);
  at::Tensor idx = g.dst.unsqueeze(1).expand({g.num_edges, H});
  at::Tensor zmax = at::zeros({N, H}, z.options())
                        .scatter_reduce(0, idx, z.detach(), "amax", /*include_self=*/false);
  at::Tensor ez = at::exp(z - zmax.index_select(0, g.dst));
  at::Tensor denom = at::zeros({N, H}, z.options()).index_add(0, g.dst, ez);
  at::Tensor alpha = ez / denom.index_select(0, g.dst);
  at::Tensor coef = mask.defined() ? alpha * mask : alpha;
  at::Tensor msg = x.index_select(0, g.src) * coef.unsqueeze(-1);
  at::Tensor out = at::zeros_like(x).index_add(0, g.dst, msg);
  return {out, alpha};
}

}  // namespace

AttentionResult gatAttention(const at::Tensor& x, const at::Tensor& s_src, const at::Tensor& s_dst,
                             const graph::GraphBatch& g, double negative_slope, const at::Tensor& mask,
                             AttentionImpl impl, const at::Tensor& edge_bias) {
  AUTOGLM_CHECK(x.dim() == 3 && x.size(0) == g.num_nodes, "x must be [N,H,F] with N=", g.num_nodes,
                ", got ", x.sizes());
  AUTOGLM_CHECK(s_src.sizes() == s_dst.sizes() && s_src.dim() == 2 && s_src.size(0) == x.size(0) &&
                    s_src.size(1) == x.size(1),
                "s_src/s_dst must be [N,H]");
  AUTOGLM_CHECK(!mask.defined() || (mask.size(0) == g.num_edges && mask.size(1) == x.size(1)),
                "mask must be [E,H]");
  AUTOGLM_CHECK(!edge_bias.defined() || (edge_bias.dim() == 2 && edge_bias.size(0) == g.num_edges &&
                                         edge_bias.size(1) == x.size(1)),
                "edge_bias must be [E,H] with E=", g.num_edges, ", H=", x.size(1), ", got ",
                edge_bias.defined() ? edge_bias.sizes() : at::IntArrayRef{});
  AUTOGLM_CHECK(!edge_bias.defined() || edge_bias.scalar_type() == x.scalar_type(),
                "edge_bias must have x's dtype ", x.scalar_type(), ", got ", edge_bias.scalar_type());
  if (impl == AttentionImpl::kReference) {
    return referenceAttention(x, s_src, s_dst, edge_bias, g, negative_slope, mask);
  }
  AUTOGLM_CHECK(x.device().is_cpu(), "fused attention runs on CPU tensors; use attention: reference on ",
                x.device());
  const at::Tensor none = at::empty({0}, x.options());
  auto outs = FusedGatAttention::apply(x, s_src, s_dst, edge_bias.defined() ? edge_bias : none, g.src,
                                       g.dst, g.in_ptr, g.out_ptr, g.out_perm,
                                       mask.defined() ? mask : none, negative_slope);
  return {outs[0], outs[1]};
}

}  // namespace autoglm::core::model
