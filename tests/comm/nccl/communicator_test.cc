// NCCL backend: host-side logic (bootstrap over MPI, device choice, dtype/op
// mapping, group guard, factory) runs anywhere; the collective test needs a GPU
// and skips without one.

#include "comm/nccl/communicator.h"

#include <ATen/Functions.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <mpi.h>

#include <cstring>

#include "comm/factory.h"
#include "comm/mpi/communicator.h"
#include "comm/nccl/bootstrap.h"
#include "comm/nccl/types.h"
#include "core/error.h"
#include "tests/mpi_test_main.h"

namespace autoglm::comm::nccl {
namespace {

int gpuCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

TEST(NcclBootstrap, UniqueIdFromRankZeroReachesEveryRank) {
  auto world = std::dynamic_pointer_cast<mpi::MpiCommunicator>(test::worldComm());
  ASSERT_NE(world, nullptr);
  int calls = 0;
  ncclUniqueId id = bootstrapUniqueId(*world, [&] {
    ++calls;
    ncclUniqueId fake;
    for (size_t i = 0; i < sizeof(fake.internal); ++i) fake.internal[i] = static_cast<char>(i * 7 + 1);
    return fake;
  });
  EXPECT_EQ(calls, world->rank() == 0 ? 1 : 0);
  for (size_t i = 0; i < sizeof(id.internal); ++i) ASSERT_EQ(id.internal[i], static_cast<char>(i * 7 + 1)) << i;
}

TEST(NcclBootstrap, LocalRankIsWithinHost) {
  auto world = std::dynamic_pointer_cast<mpi::MpiCommunicator>(test::worldComm());
  const int local = localRank(*world);
  EXPECT_GE(local, 0);
  EXPECT_LE(local, world->rank());
}

TEST(NcclOptions, PickDevice) {
  EXPECT_EQ(pickDevice(-1, 5, 4, 0), 1);
  EXPECT_EQ(pickDevice(2, 0, 4, 0), 2);
  EXPECT_THROW(pickDevice(4, 0, 4, 0), CommError);
  try {
    pickDevice(-1, 0, 0, 3);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("[Rank 3] NCCL backend: no CUDA device"), std::string::npos) << e.what();
  }
}

TEST(NcclOptions, DtypeAndOpMapping) {
  EXPECT_EQ(ncclDatatype(at::kFloat), ncclFloat32);
  EXPECT_EQ(ncclDatatype(at::kHalf), ncclFloat16);
  EXPECT_EQ(ncclDatatype(at::kBFloat16), ncclBfloat16);
  EXPECT_EQ(ncclDatatype(at::kInt), ncclInt32);
  EXPECT_EQ(ncclDatatype(at::kLong), ncclInt64);
  EXPECT_EQ(ncclDatatype(at::kByte), ncclUint8);
  EXPECT_THROW(ncclDatatype(at::kDouble), CommError);
  EXPECT_EQ(ncclReduceOp(ReduceOp::kSum), ncclSum);
  EXPECT_EQ(ncclReduceOp(ReduceOp::kAvg), ncclAvg);
  EXPECT_EQ(ncclReduceOp(ReduceOp::kMax), ncclMax);
}

TEST(NcclOptions, ErrorCheckNamesExpression) {
  try {
    AUTOGLM_CHECK_NCCL(ncclInvalidArgument, nullptr);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("ncclInvalidArgument failed at"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AUTOGLM_CHECK_NCCL(ncclSuccess, nullptr));
}

TEST(NcclOptions, GroupGuardBalancesStartAndEnd) {
  // Group calls only touch thread-local state: no device needed.
  GroupGuard g(nullptr);
  g.end();
  g.end();  // idempotent
  { GroupGuard unended(nullptr); }  // destructor ends it without throwing
}

TEST(NcclFactory, WithoutGpuIsAClearErrorNotAFallback) {
  if (gpuCount() > 0) GTEST_SKIP() << "a GPU is present";
  CommConfig cfg;
  cfg.backend = Backend::kNccl;
  try {
    makeCommunicator(cfg);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

TEST(NcclGpu, AllreduceSumOnDevice) {
  if (gpuCount() == 0) GTEST_SKIP() << "no CUDA device: NCCL collectives need a GPU";
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (gpuCount() < world) GTEST_SKIP() << world << " ranks but " << gpuCount() << " GPU(s): NCCL needs one GPU per rank";
  CommConfig cfg;
  cfg.backend = Backend::kNccl;
  auto comm = makeCommunicator(cfg);
  at::Tensor t = at::full({1000}, static_cast<float>(comm->rank() + 1),
                          at::TensorOptions().device(c10::DeviceType::CUDA, 0));
  comm->allreduce(t, {ReduceOp::kSum})->wait();
  const int P = comm->size();
  EXPECT_TRUE(at::equal(t.cpu(), at::full({1000}, static_cast<float>(P * (P + 1) / 2))));
}

TEST(NcclGpu, AlltoallRowBlocksOnDevice) {
  if (gpuCount() == 0) GTEST_SKIP() << "no CUDA device: NCCL collectives need a GPU";
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (gpuCount() < world) GTEST_SKIP() << world << " ranks but " << gpuCount() << " GPU(s): NCCL needs one GPU per rank";
  CommConfig cfg;
  cfg.backend = Backend::kNccl;
  auto comm = makeCommunicator(cfg);
  const int P = comm->size(), me = comm->rank();
  // Row block j of rank r holds 100 * r + j in every element; 3 rows of 5 per block.
  auto block = [](int src, int dst, c10::ScalarType dtype) {
    return at::full({3, 5}, static_cast<double>(100 * src + dst), at::TensorOptions().dtype(dtype));
  };
  for (c10::ScalarType dtype : {at::kFloat, at::kHalf, at::kLong}) {
    std::vector<at::Tensor> send, want;
    for (int j = 0; j < P; ++j) {
      send.push_back(block(me, j, dtype));
      want.push_back(block(j, me, dtype));
    }
    auto w = comm->alltoall(at::cat(send).to(c10::Device(c10::DeviceType::CUDA, 0)), {});
    w->wait();
    EXPECT_TRUE(at::equal(w->result()[0].cpu(), at::cat(want))) << c10::toString(dtype);
  }
  at::Tensor odd = at::zeros({2 * P + 1}, at::TensorOptions().device(c10::DeviceType::CUDA, 0));
  if (P > 1) {
    EXPECT_THROW(comm->alltoall(odd, {}), CommError);
  }
}

}  // namespace
}  // namespace autoglm::comm::nccl
