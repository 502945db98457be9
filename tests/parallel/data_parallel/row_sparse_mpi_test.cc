// Row-sparse gradients over real ranks (run at 1-4 ranks): the reduction of
// rows equals the dense all-reduce on the union of touched rows, both ways
// (gathered rows, dense table); the reducer keeps them out of its buckets and
// gives the same averages as with dense gradients; a vocabulary-parallel
// embedding's row-sparse gradient is its shard of the dense one.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/graph/graph_batch.h"
#include "core/model/token_embedding.h"
#include "parallel/data_parallel/gradient_reducer.h"
#include "parallel/data_parallel/row_sparse.h"
#include "parallel/tensor_parallel/sharded_parts.h"
#include "tests/mpi_test_main.h"

namespace autoglm::parallel::data_parallel {
namespace {

constexpr int64_t kRows = 50, kDim = 6;

// Rank r's looked-up ids: repeated ones, overlapping other ranks'; rank 1
// (when there is one) looks up nothing at odd steps.
at::Tensor idsOf(int rank, int step) {
  if (rank == 1 && step % 2 == 1) return at::empty({0}, at::TensorOptions().dtype(at::kLong));
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 9; ++i) ids.push_back((rank * 7 + i * i + step * 3) % kRows);
  ids.push_back(ids.front());  // a repeated id
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong));
}

// A sparse COO gradient (uncoalesced, as an embedding's backward gives) and
// its dense sum.
std::pair<at::Tensor, at::Tensor> gradOf(int rank, int step) {
  const at::Tensor ids = idsOf(rank, step);
  at::manual_seed(static_cast<uint64_t>(100 * rank + step));
  const at::Tensor values = at::randn({ids.size(0), kDim});
  const at::Tensor sparse = at::sparse_coo_tensor(ids.unsqueeze(0), values, {kRows, kDim});
  at::Tensor dense = at::zeros({kRows, kDim});
  dense.index_add_(0, ids, values);
  return {sparse, dense};
}

TEST(RowSparse, ReductionEqualsTheDenseAllReduceOnTheUnion) {
  auto world = test::worldComm();
  const int n = world->size();
  for (const double fraction : {1.0, 1e-9}) {  // gathered rows; the dense way
    for (int step = 0; step < 2; ++step) {
      const auto [sparse, dense] = gradOf(world->rank(), step);
      at::Tensor want = dense.clone();
      world->allreduce(want, {comm::ReduceOp::kAvg})->wait();
      std::set<int64_t> union_ids;
      for (int r = 0; r < n; ++r) {
        const at::Tensor ids = idsOf(r, step);
        for (int64_t i = 0; i < ids.size(0); ++i) union_ids.insert(ids[i].item<int64_t>());
      }
      RowSparseStats stats;
      const at::Tensor got = reduceRowSparse(sparse, sparse.sizes(), *world, fraction, stats);
      ASSERT_TRUE(got.is_sparse() && got.is_coalesced());
      EXPECT_TRUE(at::allclose(got.to_dense(), want, 1e-5, 1e-6)) << "fraction " << fraction << " step " << step;
      const at::Tensor ids = got.indices()[0];
      EXPECT_EQ(std::set<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel()), union_ids);
      EXPECT_EQ(stats.dense_reductions, n > 1 && fraction < 1.0 ? 1 : 0);
      if (n > 1 && fraction == 1.0) {  // ids, rows and the count: far less than the table
        EXPECT_LT(stats.bytes_sent, kRows * kDim * 4 / 2);
      }
    }
  }
}

// Under fp16 and bf16 compression the gathered rows travel in that type: half
// the value bytes, the sums within the type's rounding of the float32 ones.
TEST(RowSparse, HalfPrecisionRowsHalveTheValueBytes) {
  auto world = test::worldComm();
  if (world->size() == 1) GTEST_SKIP() << "needs two ranks";
  const auto [sparse, dense] = gradOf(world->rank(), 0);
  RowSparseStats full;
  const at::Tensor want = reduceRowSparse(sparse, sparse.sizes(), *world, 1.0, full);
  for (const at::ScalarType wire : {at::kHalf, at::kBFloat16}) {
    RowSparseStats stats;
    const at::Tensor got = reduceRowSparse(sparse, sparse.sizes(), *world, 1.0, stats, wire);
    EXPECT_TRUE(at::equal(got.indices(), want.indices())) << wire;
    EXPECT_TRUE(at::allclose(got.values(), want.values(), wire == at::kHalf ? 2e-3 : 2e-2, 1e-2)) << wire;
    EXPECT_FALSE(at::equal(got.values(), want.values())) << wire << ": nothing was rounded";
    const int64_t value_bytes = (full.bytes_sent - 8) * kDim / (kDim + 2);  // rows: 8-byte id + kDim floats
    EXPECT_EQ(stats.bytes_sent, full.bytes_sent - value_bytes / 2) << wire;
  }
}

// The reducer sends the rows in its compressor's row type: fp16's halves them.
TEST(RowSparse, ReducerSendsRowsInTheCompressorsType) {
  auto world = test::worldComm();
  if (world->size() == 1) GTEST_SKIP() << "needs two ranks";
  int64_t bytes[2] = {0, 0};
  for (const bool half : {false, true}) {
    at::Tensor table = at::zeros({kRows, kDim}).set_requires_grad(true);
    ReducerOptions ro;
    ro.row_sparse = {0};
    compression::CompressionConfig cc;
    if (half) cc.type = compression::CompressionType::kFp16;
    GradientReducer reducer({table}, world, compression::makeCompressor(cc), ro);
    reducer.beginBackward(true, 0);
    at::embedding(table, idsOf(world->rank(), 0), -1, false, true).sum().backward();
    reducer.finishStep();
    bytes[half ? 1 : 0] = reducer.rowSparseStats().bytes_sent;
  }
  const int64_t k = std::get<0>(at::_unique(idsOf(world->rank(), 0))).numel();
  EXPECT_EQ(bytes[0] - bytes[1], k * kDim * 2) << "fp16 rows: 2 bytes a value instead of 4";
}

// An embedding table (row-sparse) and a dense weight after it: the reducer
// with row_sparse gives what it gives with dense gradients, over micro-batches.
TEST(RowSparse, ReducerAveragesRowsAsItAveragesDenseGradients) {
  auto world = test::worldComm();
  at::manual_seed(7);
  const at::Tensor table0 = at::randn({kRows, kDim}), w0 = at::randn({kDim});
  for (const ReducerMode mode : {ReducerMode::kOverlap, ReducerMode::kAfterBackward}) {
    std::vector<at::Tensor> grads[2];
    for (const bool sparse : {false, true}) {
      at::Tensor table = table0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
      ReducerOptions ro;
      ro.mode = mode;
      if (sparse) ro.row_sparse = {0};
      GradientReducer reducer({table, w}, world, compression::makeCompressor({}), ro);
      EXPECT_EQ(reducer.numBuckets(), 1);
      for (int step = 0; step < 2; ++step) {
        table.mutable_grad() = at::Tensor();
        w.mutable_grad() = at::Tensor();
        for (int m = 0; m < 2; ++m) {
          reducer.beginBackward(m == 1, step);
          const at::Tensor rows = at::embedding(table, idsOf(world->rank(), step + m), -1, false, sparse);
          (rows.matmul(w).pow(2).sum() + w.sum()).backward();
        }
        reducer.finishStep();
        if (world->size() > 1) {  // the buckets hold w alone once the table is row-sparse
          EXPECT_EQ(reducer.compressor().stats().bytes_sent, (step + 1) * 4 * (sparse ? kDim : kDim * (kRows + 1)));
        }
        ASSERT_EQ(table.grad().is_sparse(), sparse);
        grads[sparse ? 1 : 0].push_back(table.grad().to_dense());
        grads[sparse ? 1 : 0].push_back(w.grad().clone());
      }
    }
    ASSERT_EQ(grads[0].size(), grads[1].size());
    for (size_t i = 0; i < grads[0].size(); ++i) {
      EXPECT_TRUE(at::allclose(grads[0][i], grads[1][i], 1e-5, 1e-6)) << core::enumName(mode) << " tensor " << i;
    }
  }
}

// The world as one tensor-parallel group: each rank's shard of the table gets
// a gradient naming only its own rows, equal to its slice of the dense one.
TEST(RowSparse, VocabParallelShardsGetTheirRowsOfTheDenseGradient) {
  auto world = test::worldComm();
  at::manual_seed(11);
  core::model::TokenEmbedding full(kRows, kDim, /*dropout=*/0.0);
  core::model::TokenEmbedding dense_copy(kRows, kDim, 0.0);
  dense_copy.setTable(full.table());
  full.useRowSparseGradients();
  tensor_parallel::VocabParallelEmbedding shard(full, world);
  EXPECT_EQ(shard.useRowSparseGradients(), std::vector<std::string>{"weight"});
  core::graph::GraphBatch g;
  g.tokens = at::tensor(std::vector<int64_t>{3, 49, 3, 0, 25, 26, 49, 12}, at::TensorOptions().dtype(at::kLong));
  const at::Tensor mix = at::randn({g.tokens.size(0), kDim});
  (shard.forward({}, g) * mix).sum().backward();
  (dense_copy.forward({}, g) * mix).sum().backward();
  const at::Tensor w = shard.named_parameters()["weight"];
  const auto where = shard.shardOf("weight");
  ASSERT_TRUE(where.has_value());
  ASSERT_TRUE(w.grad().is_sparse());
  const at::Tensor got = w.grad().coalesce();
  const at::Tensor want = dense_copy.table().grad().narrow(0, where->offset, w.size(0));
  EXPECT_TRUE(at::allclose(got.to_dense(), want, 1e-6, 1e-7));
  // Only rows the batch looked up, all inside the shard.
  const at::Tensor ids = got.indices()[0];
  for (int64_t i = 0; i < ids.size(0); ++i) {
    const int64_t row = ids[i].item<int64_t>() + where->offset;
    EXPECT_TRUE((g.tokens == row).any().item<bool>()) << "row " << row << " was not looked up";
  }
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel
