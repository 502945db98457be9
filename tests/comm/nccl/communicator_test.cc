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
#include "comm/nccl/device_api.h"
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
    AUTOGLM_CHECK_NCCL(ncclInvalidArgument);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("ncclInvalidArgument failed at"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AUTOGLM_CHECK_NCCL(ncclSuccess));
}

TEST(NcclOptions, GroupGuardBalancesStartAndEnd) {
  // Group calls only touch thread-local state: no device needed.
  auto api = makeCudaDeviceApi();
  GroupGuard g(*api);
  g.end();
  g.end();  // idempotent
  { GroupGuard unended(*api); }  // destructor ends it without throwing
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

// Device tensors come from the DeviceApi (the LibTorch here may be a CPU-only
// build); data moves with plain copies.
at::Tensor toDevice(DeviceApi& api, const at::Tensor& host, int device) {
  at::Tensor d = api.empty(host.sizes(), host.scalar_type(), device);
  api.copyToDevice(d.data_ptr(), host.contiguous().data_ptr(), host.nbytes());
  return d;
}

at::Tensor toHost(DeviceApi& api, const at::Tensor& dev) {
  at::Tensor h = at::empty(dev.sizes(), at::TensorOptions().dtype(dev.scalar_type()));
  api.copyToHost(h.data_ptr(), dev.data_ptr(), dev.nbytes());
  return h;
}

// One GPU per rank, or the reason to skip.
std::string gpuSkipReason() {
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (gpuCount() == 0) return "no CUDA device: NCCL collectives need a GPU";
  if (gpuCount() < world) {
    return std::to_string(world) + " ranks but " + std::to_string(gpuCount()) + " GPU(s): NCCL needs one GPU per rank";
  }
  return "";
}

std::shared_ptr<NcclCommunicator> ncclWorld() {
  CommConfig cfg;
  cfg.backend = Backend::kNccl;
  return std::dynamic_pointer_cast<NcclCommunicator>(makeCommunicator(cfg));
}

TEST(NcclGpu, AllreduceSumOnDevice) {
  if (auto why = gpuSkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto comm = ncclWorld();
  ASSERT_NE(comm, nullptr);
  auto api = makeCudaDeviceApi();
  const int P = comm->size();
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{1} << 20}) {
    at::Tensor t = toDevice(*api, at::full({n}, static_cast<float>(comm->rank() + 1)), comm->device());
    comm->allreduce(t, {ReduceOp::kSum})->wait();
    EXPECT_TRUE(at::equal(toHost(*api, t), at::full({n}, static_cast<float>(P * (P + 1) / 2)))) << n;
  }
  comm->barrier({})->wait();
}

TEST(NcclGpu, AlltoallRowBlocksOnDevice) {
  if (auto why = gpuSkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto comm = ncclWorld();
  auto api = makeCudaDeviceApi();
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
    // A temporary input: the communicator keeps it alive until the operation ran.
    auto w = comm->alltoall(toDevice(*api, at::cat(send), comm->device()), {});
    w->wait();
    EXPECT_TRUE(at::equal(toHost(*api, w->result()[0]), at::cat(want))) << c10::toString(dtype);
  }
  if (P > 1) {
    EXPECT_THROW(comm->alltoall(toDevice(*api, at::zeros({2 * P + 1}), comm->device()), {}), CommError);
  }
}

TEST(NcclGpu, RingExchangeInOneBatchAndSendRecv) {
  if (auto why = gpuSkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto comm = ncclWorld();
  auto api = makeCudaDeviceApi();
  const int P = comm->size(), me = comm->rank();
  const int right = (me + 1) % P, left = (me + P - 1) % P;
  // Everyone sends right and receives from the left at once: no deadlock.
  at::Tensor out = toDevice(*api, at::full({257}, static_cast<float>(me)), comm->device());
  at::Tensor in = api->empty({257}, at::kFloat, comm->device());
  comm->batchP2P({{P2POp::Kind::kSend, out, right}, {P2POp::Kind::kRecv, in, left}}, {})->wait();
  EXPECT_TRUE(at::equal(toHost(*api, in), at::full({257}, static_cast<float>(left))));
  if (P > 1) {
    // send/recv with the shape in the header: rank 0 to rank 1.
    if (me == 0) comm->send(toDevice(*api, at::arange(6, at::TensorOptions().dtype(at::kLong)).view({2, 3}),
                                     comm->device()),
                            1, {})->wait();
    if (me == 1) {
      auto w = comm->recv(0, {});
      w->wait();
      EXPECT_TRUE(at::equal(toHost(*api, w->result()[0]), at::arange(6, at::TensorOptions().dtype(at::kLong)).view({2, 3})));
    }
  }
  comm->barrier({})->wait();
}

}  // namespace
}  // namespace autoglm::comm::nccl
