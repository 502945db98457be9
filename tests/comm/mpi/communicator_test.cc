// Multi-rank tests of the MPI communicator: every collective, dtype and size
// class, compared with values computed locally. Run at 1-4 ranks.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "comm/mpi/communicator.h"
#include "core/error.h"
#include "tests/comm/mpi_test_main.h"

namespace autoglm::comm {
namespace {

using test::worldComm;

const std::vector<c10::ScalarType> kDtypes = {at::kFloat, at::kHalf, at::kBFloat16, at::kInt, at::kLong, at::kByte};

// Small integers: exact in every dtype, sums over 4 ranks stay below 100.
at::Tensor rankTensor(int rank, int64_t n, c10::ScalarType dtype) {
  at::Tensor idx = at::arange(n, at::TensorOptions().dtype(at::kLong));
  return ((idx.remainder(7) + 1) * (rank + 1)).to(dtype);
}

// Large-message settings small enough that tests cross chunk boundaries.
CommConfig largeConfig(const std::string& algorithm) {
  CommConfig cfg;
  cfg.large_allreduce_threshold_bytes = 8192;
  cfg.large_allreduce_chunk_bytes = 4096;
  cfg.large_allreduce_algorithm = algorithm;
  // Ring cases also go through the communication thread (no inline fast path).
  if (algorithm == "ring") cfg.inline_max_bytes = -1;
  return cfg;
}

void expectEqual(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.scalar_type(), want.scalar_type()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_TRUE(at::equal(got.to(at::kDouble), want.to(at::kDouble)))
      << what << "\ngot:  " << got.flatten().slice(0, 0, 12) << "\nwant: " << want.flatten().slice(0, 0, 12);
}

// ---- allreduce: dtype x size x algorithm x op ------------------------------------

using AllreduceParam = std::tuple<c10::ScalarType, int64_t, std::string>;

class AllreduceTest : public ::testing::TestWithParam<AllreduceParam> {};

TEST_P(AllreduceTest, SumMaxAvgMatchLocal) {
  const auto [dtype, n, algorithm] = GetParam();
  auto comm = worldComm(largeConfig(algorithm));
  const int P = comm->size();
  at::Tensor base = at::arange(n, at::TensorOptions().dtype(at::kLong)).remainder(7) + 1;

  at::Tensor sum = rankTensor(comm->rank(), n, dtype);
  comm->allreduce(sum, {ReduceOp::kSum})->wait();
  expectEqual(sum, (base * (P * (P + 1) / 2)).to(dtype), "sum");

  at::Tensor mx = rankTensor(comm->rank(), n, dtype);
  comm->allreduce(mx, {ReduceOp::kMax})->wait();
  expectEqual(mx, (base * P).to(dtype), "max");

  if (c10::isFloatingType(dtype)) {
    at::Tensor avg = rankTensor(comm->rank(), n, dtype);
    comm->allreduce(avg, {ReduceOp::kAvg})->wait();
    expectEqual(avg, (base.to(at::kDouble) * ((P + 1) / 2.0)).to(dtype), "avg");
  }
}

INSTANTIATE_TEST_SUITE_P(Comm, AllreduceTest,
                         ::testing::Combine(::testing::ValuesIn(kDtypes),
                                            ::testing::Values<int64_t>(0, 1, 17, 5003),
                                            ::testing::Values(std::string("chunked"), std::string("ring"))));

// ---- allgather, allgatherv, reduce-scatter, broadcast: dtype x size --------------

using DtypeSize = std::tuple<c10::ScalarType, int64_t>;
class CollectiveTest : public ::testing::TestWithParam<DtypeSize> {};

TEST_P(CollectiveTest, Allgather) {
  const auto [dtype, n] = GetParam();
  auto comm = worldComm();
  auto w = comm->allgather(rankTensor(comm->rank(), n, dtype), {});
  w->wait();
  ASSERT_EQ(w->result().size(), 1u);
  std::vector<at::Tensor> want;
  for (int r = 0; r < comm->size(); ++r) want.push_back(rankTensor(r, n, dtype));
  expectEqual(w->result()[0], at::stack(want), "allgather");
}

TEST_P(CollectiveTest, AllgathervVariableShapes) {
  const auto [dtype, n] = GetParam();
  auto comm = worldComm();
  // Rank r contributes r*n elements as [r, n]: rank 0 sends nothing.
  auto shaped = [&](int r) { return rankTensor(r, r * n, dtype).view({r, n}); };
  auto w = comm->allgatherv(shaped(comm->rank()), {});
  w->wait();
  ASSERT_EQ(static_cast<int>(w->result().size()), comm->size());
  for (int r = 0; r < comm->size(); ++r) expectEqual(w->result()[r], shaped(r), "allgatherv from rank " + std::to_string(r));
}

TEST_P(CollectiveTest, ReduceScatterSumAndMax) {
  const auto [dtype, n] = GetParam();
  auto comm = worldComm();
  const int P = comm->size();
  // Input [P * n, 2]; every rank gets rows [rank*n, (rank+1)*n) reduced.
  at::Tensor in = rankTensor(comm->rank(), P * n * 2, dtype).view({P * n, 2});
  at::Tensor base = (at::arange(P * n * 2, at::TensorOptions().dtype(at::kLong)).remainder(7) + 1).view({P * n, 2});
  at::Tensor mine = base.slice(0, comm->rank() * n, (comm->rank() + 1) * n);
  auto ws = comm->reduceScatter(in, {ReduceOp::kSum});
  auto wm = comm->reduceScatter(in, {ReduceOp::kMax});
  ws->wait();
  wm->wait();
  expectEqual(ws->result()[0], (mine * (P * (P + 1) / 2)).to(dtype), "reduceScatter sum");
  expectEqual(wm->result()[0], (mine * P).to(dtype), "reduceScatter max");
}

TEST_P(CollectiveTest, BroadcastFromEveryRoot) {
  const auto [dtype, n] = GetParam();
  auto comm = worldComm();
  for (int root = 0; root < comm->size(); ++root) {
    at::Tensor t = rankTensor(comm->rank(), n, dtype);
    comm->broadcast(t, {root})->wait();
    expectEqual(t, rankTensor(root, n, dtype), "broadcast from root " + std::to_string(root));
  }
}

TEST_P(CollectiveTest, SendRecvUnknownShapesAlongPipeline) {
  const auto [dtype, n] = GetParam();
  auto comm = worldComm();
  const int r = comm->rank(), P = comm->size();
  // Stage r sends a tensor of shape [r + 1, n] to r + 1; the receiver knows neither.
  auto payload = [&](int from) { return rankTensor(from, (from + 1) * n, dtype).view({from + 1, n}); };
  std::shared_ptr<Work> sent;
  if (r + 1 < P) sent = comm->send(payload(r), r + 1, {3});
  if (r > 0) {
    auto w = comm->recv(r - 1, {3});
    w->wait();
    expectEqual(w->result()[0], payload(r - 1), "recv from previous stage");
  }
  if (sent) sent->wait();
  // Ring exchange: every rank sends and receives at once (no deadlock).
  auto s = comm->send(payload(r), (r + 1) % P, {4});
  auto w = comm->recv((r + P - 1) % P, {4});
  w->wait();
  s->wait();
  expectEqual(w->result()[0], payload((r + P - 1) % P), "ring exchange");
}

INSTANTIATE_TEST_SUITE_P(Comm, CollectiveTest,
                         ::testing::Combine(::testing::ValuesIn(kDtypes), ::testing::Values<int64_t>(0, 1, 17, 3001)));

// ---- async behaviour ---------------------------------------------------------------

TEST(MpiCommunicator, ManyOutstandingOperationsCompleteInOrder) {
  auto comm = worldComm();
  const int P = comm->size();
  constexpr int kOps = 64;
  std::vector<at::Tensor> ts;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < kOps; ++i) {
    ts.push_back(at::full({257}, static_cast<float>(i + comm->rank()), at::TensorOptions().dtype(at::kFloat)));
    works.push_back(comm->allreduce(ts.back(), {ReduceOp::kSum}));
  }
  works.push_back(comm->barrier({}));
  for (int i = 0; i < kOps; ++i) {
    works[i]->wait();
    // In order: every earlier operation finished before this one.
    for (int j = 0; j < i; ++j) EXPECT_TRUE(works[j]->isCompleted());
    EXPECT_EQ(works[i]->info().seq, static_cast<uint64_t>(i + 1));
    const float want = static_cast<float>(P * i + P * (P - 1) / 2);
    EXPECT_TRUE(at::equal(ts[i], at::full({257}, want, at::TensorOptions().dtype(at::kFloat)))) << "op " << i;
  }
  works.back()->wait();
  EXPECT_TRUE(works.back()->isSuccess());
}

TEST(MpiCommunicator, WaitTimeoutNamesRankOpSeqAndTimeout) {
  auto comm = worldComm();
  // A receive from this rank itself that nobody has sent yet cannot complete.
  auto pending = comm->recv(comm->rank(), {9});
  try {
    pending->wait(std::chrono::milliseconds(50));
    FAIL() << "wait() returned before a matching send existed";
  } catch (const CommError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[Rank " + std::to_string(comm->rank()) + "]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("OpType=RECV"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SeqNum=1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("50 ms"), std::string::npos) << msg;
  }
  EXPECT_FALSE(pending->isCompleted());
  // Now complete it, so the communicator shuts down cleanly.
  at::Tensor t = at::arange(5, at::TensorOptions().dtype(at::kInt));
  auto s = comm->send(t, comm->rank(), {9});
  pending->wait();
  s->wait();
  expectEqual(pending->result()[0], t, "late self-send");
}

TEST(MpiCommunicator, FailureIsStoredInWork) {
  auto comm = worldComm();
  // Two ranks disagreeing on the dtype of allgatherv is detected after the
  // header exchange; with one rank, use a malformed self-message instead.
  at::Tensor raw = at::zeros({11}, at::TensorOptions().dtype(at::kLong));
  auto mpi = std::dynamic_pointer_cast<mpi::MpiCommunicator>(comm);
  ASSERT_NE(mpi, nullptr);
  // A recv whose header was not written by send(): header tag of user tag 5.
  mpi->runBlocking([&](MPI_Comm c) {
    MPI_Request req;
    MPI_Isend(raw.data_ptr(), 11, MPI_INT64_T, comm->rank(), 16 + 2 * 5, c, &req);
    MPI_Request_free(&req);
  });
  auto w = comm->recv(comm->rank(), {5});
  EXPECT_THROW(w->wait(), CommError);
  EXPECT_TRUE(w->isCompleted());
  EXPECT_FALSE(w->isSuccess());
  EXPECT_NE(w->exception(), nullptr);
  EXPECT_THROW(w->result(), CommError);
}

// ---- argument errors: thrown before anything is sent -----------------------------

TEST(MpiCommunicator, BadArgumentsAreClearErrors) {
  auto comm = worldComm();
  at::Tensor nc = at::zeros({4, 3}, at::TensorOptions().dtype(at::kFloat)).t();
  try {
    comm->allreduce(nc, {});
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("not contiguous"), std::string::npos) << e.what();
  }
  at::Tensor f64 = at::zeros({3}, at::TensorOptions().dtype(at::kDouble));
  try {
    comm->allreduce(f64, {});
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("dtype Double is not supported"), std::string::npos) << e.what();
  }
  at::Tensor ints = at::zeros({3}, at::TensorOptions().dtype(at::kInt));
  try {
    comm->allreduce(ints, {ReduceOp::kAvg});
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("avg needs a floating dtype"), std::string::npos) << e.what();
  }
  at::Tensor meta = at::empty({3}, at::TensorOptions().dtype(at::kFloat).device(c10::DeviceType::Meta));
  try {
    comm->allreduce(meta, {});
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("needs cpu tensors"), std::string::npos) << e.what();
  }
  at::Tensor odd = at::zeros({comm->size() * 2 + 1}, at::TensorOptions().dtype(at::kFloat));
  if (comm->size() > 1) {
    EXPECT_THROW(comm->reduceScatter(odd, {}), CommError);
  }
  EXPECT_THROW(comm->send(ints, comm->size(), {}), CommError);
  EXPECT_THROW(comm->send(ints, 0, {-1}), CommError);
  EXPECT_THROW(comm->recv(-1, {}), CommError);
  at::Tensor b = ints.clone();
  EXPECT_THROW(comm->broadcast(b, {comm->size()}), CommError);
  // The communicator still works afterwards.
  comm->allreduce(ints, {})->wait();
}

}  // namespace
}  // namespace autoglm::comm
