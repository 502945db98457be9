#include "core/model/ppmi_embedding.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Generator.h>

#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "core/text/vocab.h"

namespace autoglm::core::model {

at::Tensor ppmiMatrix(const graph::GraphStore& store, const std::vector<int64_t>& graphs, int64_t vocab_size) {
  std::unordered_map<int64_t, double> pair;  // key = i * vocab + j, i != j, both regular tokens
  std::vector<double> row(static_cast<size_t>(vocab_size), 0.0);
  double total = 0.0;
  for (int64_t gi : graphs) {
    const graph::GraphView g = store.graph(gi);
    for (int64_t e = 0; e < g.num_edges; ++e) {
      const int64_t a = g.tokens[g.src[e]], b = g.tokens[g.dst[e]];
      if (a == b || a < text::Vocab::kNumReserved || b < text::Vocab::kNumReserved) continue;
      AUTOGLM_CHECK(a < vocab_size && b < vocab_size, "token id beyond vocabulary size ", vocab_size);
      const double w = g.weight[e];
      pair[a * vocab_size + b] += w;
      row[static_cast<size_t>(a)] += w;
      total += w;
    }
  }
  std::vector<int64_t> idx_i, idx_j;
  std::vector<float> val;
  idx_i.reserve(pair.size());
  idx_j.reserve(pair.size());
  val.reserve(pair.size());
  for (const auto& [key, c] : pair) {
    const int64_t i = key / vocab_size, j = key % vocab_size;
    const double pmi = std::log(c * total / (row[static_cast<size_t>(i)] * row[static_cast<size_t>(j)]));
    if (pmi <= 0.0) continue;
    idx_i.push_back(i);
    idx_j.push_back(j);
    val.push_back(static_cast<float>(pmi));
  }
  const auto n = static_cast<int64_t>(val.size());
  at::Tensor indices = at::stack({at::tensor(idx_i, at::kLong), at::tensor(idx_j, at::kLong)});
  if (n == 0) indices = at::empty({2, 0}, at::kLong);
  at::Tensor values = n == 0 ? at::empty({0}, at::kFloat) : at::tensor(val, at::kFloat);
  return at::sparse_coo_tensor(indices, values, {vocab_size, vocab_size}).coalesce();
}

at::Tensor ppmiSvdEmbeddings(const graph::GraphStore& store, const std::vector<int64_t>& graphs, int64_t vocab_size,
                             const PpmiOptions& opts) {
  at::Tensor m = ppmiMatrix(store, graphs, vocab_size);
  at::Generator gen = at::detail::createCPUGenerator(opts.seed);
  const int64_t k = std::min(vocab_size, opts.dim + opts.oversample);
  at::Tensor y = at::mm(m, at::randn({vocab_size, k}, gen, at::kFloat));
  for (int64_t it = 0; it < opts.power_iterations; ++it) {
    y = std::get<0>(at::linalg_qr(y));
    y = at::mm(m, at::mm(m.t(), y));  // M is symmetric; M M^T keeps the power iteration general
  }
  at::Tensor q = std::get<0>(at::linalg_qr(y));                        // [V, k]
  at::Tensor b = at::mm(m.t(), q).t();                                 // [k, V] = Q^T M
  auto [ub, s, vh] = at::linalg_svd(b, /*full_matrices=*/false);
  const int64_t d = std::min(opts.dim, s.size(0));
  at::Tensor emb = at::mm(q, ub.slice(1, 0, d)) * s.slice(0, 0, d).sqrt().unsqueeze(0);  // [V, d]
  if (d < opts.dim) emb = at::cat({emb, at::zeros({vocab_size, opts.dim - d})}, 1);
  // Rows with no co-occurrence (reserved ids, isolated tokens) get small random vectors.
  at::Tensor norms = emb.norm(2, 1);
  at::Tensor empty_rows = norms.eq(0);
  const at::Tensor filled = empty_rows.logical_not().nonzero().squeeze(1);
  const double std_now = filled.numel() > 1 ? emb.index_select(0, filled).std().item<double>() : 0.0;
  if (std_now > 0) emb = emb * (opts.target_std / std_now);
  at::Tensor noise = at::randn({vocab_size, opts.dim}, gen, at::kFloat) * opts.target_std;
  emb = at::where(empty_rows.unsqueeze(1), noise, emb);
  return emb.contiguous();
}

}  // namespace autoglm::core::model
