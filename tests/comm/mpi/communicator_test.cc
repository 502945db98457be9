// Multi-rank tests of the MPI communicator: every collective, dtype and size
// class, compared with values computed locally. Run at 1-4 ranks.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <tuple>
#include <vector>

#include "comm/mpi/communicator.h"
#include "core/error.h"
#include "tests/mpi_test_main.h"

namespace autoglm::comm {
namespace {

using test::worldComm;

const std::vector<c10::ScalarType> kDtypes = {at::kFloat, at::kHalf, at::kBFloat16, at::kInt, at::kLong, at::kByte};

// Small integers: exact in every dtype, sums over 4 ranks stay below 100.
at::Tensor rankTensor(int rank, int64_t n, c10::ScalarType dtype) {
  at::Tensor idx = at::arange(n, at::TensorOptions().dtype(at::kLong));
  return ((idx.remainder(7) + 1) * (rank + 1)).to(dtype);
}

// Settings small enough that tests cross chunk boundaries: "shm" (shared-memory
// all-reduce, direct up to 1 KiB, 4 KiB chunks), or MPI with the large-message
// path "chunked" / "ring" from 8 KiB.
CommConfig largeConfig(const std::string& algorithm) {
  CommConfig cfg;
  cfg.shm_allreduce = algorithm == "shm";
  cfg.shm_chunk_bytes = 4096;
  cfg.shm_direct_max_bytes = 1024;
  cfg.large_allreduce_threshold_bytes = 8192;
  cfg.large_allreduce_chunk_bytes = 4096;
  if (algorithm == "ring") cfg.large_allreduce_algorithm = LargeAllreduceAlgorithm::kRing;
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
                                            ::testing::Values(std::string("shm"), std::string("chunked"),
                                                              std::string("ring"))));

// Default settings (1 MiB chunks), several chunks per all-reduce, so both
// halves of the shared-memory segment are used (small_dev_shm_test.sh runs this
// with a /dev/shm too small for them).
TEST(MpiCommunicator, DefaultAllreduceOfSeveralChunks) {
  auto comm = worldComm();
  const int P = comm->size();
  for (int64_t n : {int64_t{3} << 18, int64_t{5} << 18}) {  // 3 and 5 MiB of float32
    at::Tensor t = at::full({n}, static_cast<float>(comm->rank() + 1));
    comm->allreduce(t, {ReduceOp::kSum})->wait();
    expectEqual(t, at::full({n}, static_cast<float>(P * (P + 1) / 2)), "several chunks");
  }
}

// Shared-memory all-reduce: direct and chunked operations alternate, so both
// segment buffers are reused by either kind; some run on the communication thread.
TEST(MpiCommunicator, ShmAllreduceAlternatingSizesAndThreads) {
  auto comm = worldComm(largeConfig("shm"));
  const int P = comm->size();
  const std::vector<int64_t> sizes = {3, 5003, 256, 1, 4096, 1025, 9000};
  for (int round = 0; round < 3; ++round) {
    std::vector<at::Tensor> ts;
    std::vector<std::shared_ptr<Work>> works;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto dtype = kDtypes[(i + round) % kDtypes.size()];
      ts.push_back(rankTensor(comm->rank(), sizes[i], dtype));
      // Several outstanding: all but the first go through the communication thread.
      works.push_back(comm->allreduce(ts.back(), {ReduceOp::kSum}));
    }
    for (size_t i = 0; i < sizes.size(); ++i) {
      works[i]->wait();
      const auto dtype = ts[i].scalar_type();
      at::Tensor base = at::arange(sizes[i], at::TensorOptions().dtype(at::kLong)).remainder(7) + 1;
      expectEqual(ts[i], (base * (P * (P + 1) / 2)).to(dtype), "round " + std::to_string(round) + " size " +
                                                                   std::to_string(sizes[i]));
    }
  }
}

// Float sums that round: every rank must still hold bitwise the same result.
TEST(MpiCommunicator, AllreduceResultIsBitwiseEqualOnAllRanks) {
  for (const std::string algorithm : {"shm", "chunked", "ring"}) {
    auto comm = worldComm(largeConfig(algorithm));
    for (int64_t n : {5, 3001}) {
      at::Tensor t = at::arange(n, at::TensorOptions().dtype(at::kDouble)).mul(0.1 * (comm->rank() + 1)).sin()
                         .to(at::kFloat);
      comm->allreduce(t, {ReduceOp::kSum})->wait();
      at::Tensor all = t.clone();
      auto w = comm->allgather(all, {});
      w->wait();
      for (int r = 0; r < comm->size(); ++r) {
        EXPECT_TRUE(at::equal(w->result()[0][r], t)) << algorithm << " n=" << n << " rank " << r;
      }
    }
  }
}

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

// ---- all-to-all: dtype x rows per rank x trailing shape ----------------------------

// Row block that rank `src` sends to rank `dst`: `rows` rows of shape `tail`,
// values small enough for uint8 and different for every (src, dst) pair.
at::Tensor alltoallBlock(int src, int dst, int64_t rows, const std::vector<int64_t>& tail, c10::ScalarType dtype) {
  std::vector<int64_t> shape{rows};
  shape.insert(shape.end(), tail.begin(), tail.end());
  int64_t n = rows;
  for (int64_t s : tail) n *= s;
  at::Tensor idx = at::arange(n, at::TensorOptions().dtype(at::kLong));
  return ((idx + (src * 5 + dst * 3)).remainder(11) + 1 + 16 * src).to(dtype).view(shape);
}

using AlltoallParam = std::tuple<c10::ScalarType, int64_t, std::vector<int64_t>>;
class AlltoallTest : public ::testing::TestWithParam<AlltoallParam> {};

TEST_P(AlltoallTest, RowBlockJGoesToRankJ) {
  const auto [dtype, rows, tail] = GetParam();
  auto comm = worldComm();
  const int P = comm->size(), me = comm->rank();
  std::vector<at::Tensor> send, want;
  for (int j = 0; j < P; ++j) {
    send.push_back(alltoallBlock(me, j, rows, tail, dtype));
    want.push_back(alltoallBlock(j, me, rows, tail, dtype));
  }
  const at::Tensor in = at::cat(send);
  const at::Tensor before = in.clone();
  auto w = comm->alltoall(in, {});
  w->wait();
  ASSERT_EQ(w->result().size(), 1u);
  EXPECT_EQ(w->info().op, OpType::kAlltoall);
  expectEqual(w->result()[0], at::cat(want), "alltoall");
  expectEqual(in, before, "alltoall input unchanged");
}

INSTANTIATE_TEST_SUITE_P(Comm, AlltoallTest,
                         ::testing::Combine(::testing::ValuesIn(kDtypes), ::testing::Values<int64_t>(0, 1, 3, 257),
                                            ::testing::Values(std::vector<int64_t>{}, std::vector<int64_t>{5},
                                                              std::vector<int64_t>{2, 3})));

TEST(MpiCommunicator, AlltoallQueuedBehindOtherOperationsAndLarge) {
  auto comm = worldComm();
  const int P = comm->size(), me = comm->rank();
  // Several outstanding operations: all-to-all keeps its place in the order.
  at::Tensor ar = at::full({1000}, static_cast<float>(me + 1));
  auto w0 = comm->allreduce(ar, {});
  std::vector<at::Tensor> send, want;
  for (int j = 0; j < P; ++j) {
    send.push_back(alltoallBlock(me, j, 40000, {}, at::kFloat));
    want.push_back(alltoallBlock(j, me, 40000, {}, at::kFloat));
  }
  auto w1 = comm->alltoall(at::cat(send), {});
  auto w2 = comm->barrier({});
  w2->wait();
  EXPECT_TRUE(w0->isCompleted());
  EXPECT_TRUE(w1->isCompleted());
  w1->wait();
  EXPECT_EQ(w1->info().seq, 2u);
  expectEqual(w1->result()[0], at::cat(want), "large alltoall");
  expectEqual(ar, at::full({1000}, static_cast<float>(P * (P + 1) / 2)), "allreduce before alltoall");
}

TEST(MpiCommunicator, AlltoallBadShapeIsCommErrorNamingOpRankGroup) {
  auto comm = worldComm();
  const int P = comm->size();
  // A 0-dim tensor has no rows to split at any group size; 2P+1 rows only at P > 1.
  std::vector<at::Tensor> bad{at::zeros({}, at::TensorOptions().dtype(at::kFloat))};
  if (P > 1) bad.push_back(at::zeros({2 * P + 1, 3}, at::TensorOptions().dtype(at::kFloat)));
  for (const at::Tensor& t : bad) {
    try {
      comm->alltoall(t, {});
      FAIL() << "alltoall accepted shape " << t.sizes();
    } catch (const CommError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("[Rank " + std::to_string(comm->rank()) + "]"), std::string::npos) << msg;
      EXPECT_NE(msg.find("alltoall"), std::string::npos) << msg;
      EXPECT_NE(msg.find("group 'world'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("divisible by the group size " + std::to_string(P)), std::string::npos) << msg;
    }
  }
  at::Tensor nc = at::zeros({3, 2 * P}, at::TensorOptions().dtype(at::kFloat)).t();
  EXPECT_THROW(comm->alltoall(nc, {}), CommError);
  EXPECT_THROW(comm->alltoall(at::zeros({P}, at::TensorOptions().dtype(at::kDouble)), {}), CommError);
  // Nothing was sent: the communicator still works, sequence numbers included.
  auto w = comm->alltoall(alltoallBlock(comm->rank(), 0, P, {}, at::kInt), {});
  w->wait();
  EXPECT_EQ(w->info().seq, 1u);
}

// ---- async behaviour ---------------------------------------------------------------

// Every rank sends to the right and to the left and receives from both, in one
// batch: the order within the batch cannot deadlock, and between a pair the
// messages match in the order listed (two messages rank r -> r+1).
TEST(MpiCommunicator, BatchP2PRingBothWaysWithoutHeaders) {
  auto comm = worldComm();
  const int P = comm->size(), me = comm->rank();
  const int right = (me + 1) % P, left = (me + P - 1) % P;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{300000}}) {
    at::Tensor to_right_a = at::full({n}, static_cast<float>(me), f32);
    at::Tensor to_right_b = at::full({n + 1}, static_cast<int64_t>(10 * me), i64);
    at::Tensor to_left = at::full({2, n}, static_cast<float>(-me), f32);
    at::Tensor from_left_a = at::empty({n}, f32), from_left_b = at::empty({n + 1}, i64);
    at::Tensor from_right = at::empty({2, n}, f32);
    // Receives listed before the matching sends on purpose.
    comm->batchP2P({{P2POp::Kind::kRecv, from_left_a, left},
                    {P2POp::Kind::kRecv, from_right, right},
                    {P2POp::Kind::kRecv, from_left_b, left},
                    {P2POp::Kind::kSend, to_right_a, right},
                    {P2POp::Kind::kSend, to_left, left},
                    {P2POp::Kind::kSend, to_right_b, right}},
                   {})
        ->wait();
    EXPECT_TRUE(at::equal(from_left_a, at::full({n}, static_cast<float>(left), f32))) << n;
    EXPECT_TRUE(at::equal(from_left_b, at::full({n + 1}, static_cast<int64_t>(10 * left), i64))) << n;
    EXPECT_TRUE(at::equal(from_right, at::full({2, n}, static_cast<float>(-right), f32))) << n;
  }
  EXPECT_THROW(comm->batchP2P({{P2POp::Kind::kSend, at::zeros({1}), P}}, {}), CommError);
  EXPECT_THROW(comm->batchP2P({{P2POp::Kind::kSend, at::zeros({2, 2}).t(), 0}}, {}), CommError);
  comm->barrier({})->wait();
}

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

// A rank that never joins: the shared-memory all-reduce (inline and on the
// communication thread) gives up after comm.timeout_ms naming the rank it
// waited for, and the communicator refuses further work instead of hanging.
TEST(MpiCommunicator, ShmAllreduceTimesOutNamingTheMissingRank) {
  auto probe = worldComm();
  const int P = probe->size(), me = probe->rank();
  if (P == 1) GTEST_SKIP() << "needs two ranks";
  for (int64_t n : {int64_t{100}, int64_t{1} << 20}) {  // inline direct path; chunked on the thread
    CommConfig cfg;
    cfg.timeout_ms = 300;
    auto comm = worldComm(cfg);
    if (me != P - 1) {
      at::Tensor t = at::ones({n});
      const auto t0 = std::chrono::steady_clock::now();
      std::string msg;
      try {
        comm->allreduce(t, {})->wait(std::chrono::seconds(30));
      } catch (const CommError& e) {
        msg = e.what();
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_NE(msg.find("[Rank " + std::to_string(me) + "] mpi allreduce on group 'world'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("waiting for rank " + std::to_string(P - 1) + " in the shared-memory all-reduce"),
                std::string::npos)
          << msg;
      EXPECT_LT(secs, 10.0) << "the 300 ms timeout held";
      const std::string later = [&] {
        try {
          comm->allreduce(t, {})->wait();
        } catch (const CommError& e) {
          return std::string(e.what());
        }
        return std::string("(no error)");
      }();
      EXPECT_NE(later.find("unusable since"), std::string::npos) << later;
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

TEST(MpiCommunicator, InlineMpiAllreduceTimesOutWhenARankIsLate) {
  auto probe = worldComm();
  const int P = probe->size(), me = probe->rank();
  if (P == 1) GTEST_SKIP() << "needs two ranks";
  CommConfig cfg;
  cfg.timeout_ms = 300;
  cfg.shm_allreduce = false;
  auto comm = worldComm(cfg);
  at::Tensor t = at::ones({8});
  if (me != P - 1) {
    std::string msg;
    try {
      comm->allreduce(t, {})->wait();
    } catch (const CommError& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find("timed out after 300 ms"), std::string::npos) << msg;
    EXPECT_NE(msg.find("some rank did not join"), std::string::npos) << msg;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  // The late rank joins, so the others' abandoned request completes before MPI ends.
  if (me == P - 1) comm->allreduce(t, {})->wait(std::chrono::seconds(30));
  MPI_Barrier(MPI_COMM_WORLD);
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
