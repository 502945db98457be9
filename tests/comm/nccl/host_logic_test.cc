// The NCCL backend's host logic over a fake DeviceApi, without a GPU: tensors
// kept alive until their operation's event fired, the device selected at every
// entry point, point-to-point inside NCCL groups, tags refused, and the abort
// state machine (once, then every call says why; never destroyed after it).

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include "comm/nccl/communicator.h"
#include "core/error.h"
#include "tests/comm/nccl/fake_device_api.h"
#include "tests/loopback_communicator.h"

namespace autoglm::comm::nccl {
namespace {

using FakeApi = test::FakeDeviceApi;
constexpr int kDevice = 3;

std::shared_ptr<NcclCommunicator> makeComm(const std::shared_ptr<FakeApi>& api, int size = 2,
                                           int64_t timeout_ms = 60000,
                                           std::shared_ptr<autoglm::test::LoopbackComm> host = nullptr) {
  if (!host) host = std::make_shared<autoglm::test::LoopbackComm>(size);
  CommConfig cfg;
  cfg.timeout_ms = timeout_ms;
  return std::make_shared<NcclCommunicator>(api, host, reinterpret_cast<CommHandle>(uintptr_t{0x42}), kDevice, cfg,
                                            "g");
}

// A tensor whose memory reports when it is freed.
at::Tensor tracked(int64_t n, bool* freed) {
  auto* data = new float[static_cast<size_t>(n)]();
  return at::from_blob(
      data, {n},
      [freed](void* p) {
        delete[] static_cast<float*>(p);
        *freed = true;
      },
      at::TensorOptions().dtype(at::kFloat));
}

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const CommError& e) {
    return e.what();
  }
  return "(no error)";
}

// The calls between the first "groupStart" and the next "groupEnd".
std::vector<std::string> firstGroup(const std::vector<std::string>& calls) {
  auto start = std::find(calls.begin(), calls.end(), "groupStart");
  auto end = std::find(start, calls.end(), "groupEnd");
  if (start == calls.end() || end == calls.end()) return {"(no group)"};
  return std::vector<std::string>(start + 1, end);
}

TEST(NcclHostLogic, TensorsLiveUntilTheirEventFires) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api);
  bool freed = false;
  {
    at::Tensor t = tracked(16, &freed);
    comm->allreduce(t, {});  // Work dropped at once, tensor too
  }
  EXPECT_FALSE(freed) << "freed while the all-reduce may still write it";
  EXPECT_EQ(comm->inflight(), 1u);
  api->completeAll();
  EXPECT_EQ(comm->inflight(), 0u);
  EXPECT_TRUE(freed);
}

TEST(NcclHostLogic, BarrierBufferOutlivesTheCall) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api);
  comm->barrier({});
  EXPECT_EQ(comm->inflight(), 1u) << "the barrier's one-element buffer must wait for the stream";
  api->completeAll();
  EXPECT_EQ(comm->inflight(), 0u);
  // Outputs the backend allocates are held as well (alltoall of a temporary).
  auto w = comm->alltoall(at::zeros({4}), {});
  EXPECT_EQ(comm->inflight(), 1u);
  api->completeAll();
  w->wait(std::chrono::seconds(5));
  EXPECT_EQ(w->result()[0].numel(), 4);
}

TEST(NcclHostLogic, EveryEntryPointSelectsTheDeviceFirst) {
  auto api = std::make_shared<FakeApi>();
  auto host = std::make_shared<autoglm::test::LoopbackComm>(2);
  auto comm = makeComm(api, 2, 60000, host);
  at::Tensor t = at::zeros({4});
  const std::vector<std::pair<std::string, std::function<std::shared_ptr<Work>()>>> ops = {
      {"allreduce", [&] { return comm->allreduce(t, {}); }},
      {"allgather", [&] { return comm->allgather(t, {}); }},
      {"reduceScatter", [&] { return comm->reduceScatter(t, {}); }},
      {"alltoall", [&] { return comm->alltoall(t, {}); }},
      {"broadcast", [&] { return comm->broadcast(t, {}); }},
      {"send", [&] { return comm->send(t, 1, {}); }},
      {"recv",
       [&] {
         host->queueRecv(at::tensor(std::vector<int64_t>{static_cast<int64_t>(at::kFloat), 1, 4}));
         return comm->recv(1, {});
       }},
      {"batchP2P", [&] { return comm->batchP2P({{P2POp::Kind::kSend, t, 1}, {P2POp::Kind::kRecv, t, 1}}, {}); }},
      {"barrier", [&] { return comm->barrier({}); }},
  };
  for (const auto& [name, run] : ops) {
    api->clearCalls();
    auto w = run();
    ASSERT_FALSE(api->calls().empty()) << name;
    EXPECT_EQ(api->calls().front(), "setDevice(3)") << name;
    api->clearCalls();
    EXPECT_FALSE(w->isCompleted()) << name;
    EXPECT_EQ(api->calls().front(), "setDevice(3)") << name << ": isCompleted";
    api->completeAll();
    api->clearCalls();
    w->wait(std::chrono::seconds(5));
    EXPECT_EQ(api->calls().front(), "setDevice(3)") << name << ": wait";
  }
  api->clearCalls();
  EXPECT_EQ(comm->inflight(), 0u);
  EXPECT_EQ(api->calls().front(), "setDevice(3)");
}

TEST(NcclHostLogic, PointToPointRunsInsideGroups) {
  auto api = std::make_shared<FakeApi>();
  auto host = std::make_shared<autoglm::test::LoopbackComm>(2);
  auto comm = makeComm(api, 2, 60000, host);
  at::Tensor a = at::zeros({4}), b = at::zeros({6});

  api->clearCalls();
  comm->send(a, 1, {});
  EXPECT_EQ(firstGroup(api->calls()), std::vector<std::string>{"send(peer=1, count=4)"});
  ASSERT_EQ(host->sent().size(), 1u) << "the shape header goes over the host communicator";

  api->clearCalls();
  host->queueRecv(at::tensor(std::vector<int64_t>{static_cast<int64_t>(at::kFloat), 2, 2, 3}));
  auto r = comm->recv(1, {});
  EXPECT_EQ(firstGroup(api->calls()), std::vector<std::string>{"recv(peer=1, count=6)"});
  api->completeAll();
  r->wait(std::chrono::seconds(5));
  EXPECT_EQ(r->result()[0].sizes(), (at::IntArrayRef{2, 3}));

  // A ring step: both directions in one group, in the order given.
  api->clearCalls();
  comm->batchP2P({{P2POp::Kind::kSend, a, 1}, {P2POp::Kind::kRecv, b, 0}, {P2POp::Kind::kSend, b, 0}}, {});
  EXPECT_EQ(firstGroup(api->calls()),
            (std::vector<std::string>{"send(peer=1, count=4)", "recv(peer=0, count=6)", "send(peer=0, count=6)"}));
  EXPECT_EQ(api->count("groupStart"), 1);
  EXPECT_EQ(api->count("groupEnd"), 1);

  api->clearCalls();
  comm->alltoall(at::zeros({4}), {});
  EXPECT_EQ(firstGroup(api->calls()), (std::vector<std::string>{"send(peer=0, count=2)", "recv(peer=0, count=2)",
                                                                "send(peer=1, count=2)", "recv(peer=1, count=2)"}));
  api->completeAll();
  EXPECT_EQ(comm->inflight(), 0u);
}

TEST(NcclHostLogic, TagsAreRefusedBeforeAnythingIsSent) {
  auto api = std::make_shared<FakeApi>();
  auto host = std::make_shared<autoglm::test::LoopbackComm>(2);
  auto comm = makeComm(api, 2, 60000, host);
  api->clearCalls();
  const std::string e = errorOf([&] { comm->send(at::zeros({2}), 1, {7, Millis(1000)}); });
  EXPECT_NE(e.find("[Rank 0] nccl send on group 'g' (size 2): tag 7: the NCCL backend has no tags"),
            std::string::npos)
      << e;
  EXPECT_NE(errorOf([&] { comm->recv(1, {3, Millis(1000)}); }).find("no tags"), std::string::npos);
  EXPECT_EQ(api->count("send(peer=1, count=2)"), 0);
  EXPECT_TRUE(host->sent().empty());
}

TEST(NcclHostLogic, AsyncErrorAbortsOnceAndLaterCallsSayWhy) {
  auto api = std::make_shared<FakeApi>();
  {
    auto comm = makeComm(api);
    at::Tensor t = at::zeros({8});
    auto w = comm->allreduce(t, {});
    api->setAsyncError("unhandled cuda error");
    const std::string e = errorOf([&] { w->wait(std::chrono::seconds(5)); });
    EXPECT_NE(e.find("NcclWork(SeqNum=1, OpType=ALLREDUCE"), std::string::npos) << e;
    EXPECT_NE(e.find("NCCL async error unhandled cuda error; communicator aborted"), std::string::npos) << e;
    EXPECT_TRUE(comm->aborted());
    EXPECT_EQ(api->count("commAbort"), 1);
    EXPECT_NE(errorOf([&] { w->wait(std::chrono::seconds(5)); }), "(no error)") << "the failure is kept";
    api->clearCalls();
    const std::string later = errorOf([&] { comm->allreduce(t, {}); });
    EXPECT_NE(later.find("[Rank 0] nccl allreduce on group 'g' (size 2): the communicator was aborted"),
              std::string::npos)
        << later;
    EXPECT_NE(later.find("unhandled cuda error"), std::string::npos) << later;
    EXPECT_EQ(api->count("allReduce(count=8)"), 0) << "nothing issued on an aborted communicator";
    comm->abort("again");
    EXPECT_EQ(api->count("commAbort"), 0) << "aborted once only";
  }
  EXPECT_EQ(api->count("commDestroy"), 0) << "an aborted communicator is not destroyed";
}

TEST(NcclHostLogic, HealthyCommunicatorIsDestroyedOnce) {
  auto api = std::make_shared<FakeApi>();
  api->autoComplete(true);
  {
    auto comm = makeComm(api);
    at::Tensor t = at::zeros({8});
    comm->allreduce(t, {})->wait(std::chrono::seconds(5));
  }
  EXPECT_EQ(api->count("commDestroy"), 1);
  EXPECT_EQ(api->count("commAbort"), 0);
  EXPECT_EQ(api->liveEvents(), 0u) << "every event destroyed";
}

TEST(NcclHostLogic, TimeoutAndCudaErrorAbort) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api);
  at::Tensor t = at::zeros({8});
  auto w = comm->allreduce(t, {});
  const std::string e = errorOf([&] { w->wait(std::chrono::milliseconds(20)); });
  EXPECT_NE(e.find("Timed out waiting for NcclWork(SeqNum=1, OpType=ALLREDUCE"), std::string::npos) << e;
  EXPECT_TRUE(comm->aborted());

  auto api2 = std::make_shared<FakeApi>();
  auto comm2 = makeComm(api2);
  auto w2 = comm2->allreduce(t, {});
  api2->setEventError("an illegal memory access was encountered");
  EXPECT_NE(errorOf([&] { w2->wait(std::chrono::seconds(5)); }).find("CUDA error an illegal memory access"),
            std::string::npos);
  EXPECT_TRUE(comm2->aborted());
}

TEST(NcclHostLogic, NcclCallErrorAbortsBeforeThrowing) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api);
  at::Tensor t = at::zeros({8});
  api->failNext("allReduce");
  const std::string e = errorOf([&] { comm->allreduce(t, {}); });
  EXPECT_NE(e.find("[Rank 0] nccl allreduce on group 'g' (size 2, SeqNum=1): allReduce(count=8) failed"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("communicator aborted"), std::string::npos) << e;
  EXPECT_EQ(api->count("commAbort"), 1);
  // A failure inside a group still closes the group.
  auto api2 = std::make_shared<FakeApi>();
  auto comm2 = makeComm(api2);
  api2->failNext("recv");
  EXPECT_NE(errorOf([&] { comm2->batchP2P({{P2POp::Kind::kSend, t, 1}, {P2POp::Kind::kRecv, t, 1}}, {}); }),
            "(no error)");
  EXPECT_EQ(api2->count("groupStart"), api2->count("groupEnd"));
}

TEST(NcclHostLogic, DestructorWaitsForInflightThenAbortsAndReleases) {
  auto api = std::make_shared<FakeApi>();
  bool freed = false;
  {
    auto comm = makeComm(api, 2, /*timeout_ms=*/30);
    at::Tensor t = tracked(4, &freed);
    comm->allreduce(t, {});
  }  // the event never fires: after 30 ms the communicator aborts, then releases
  EXPECT_TRUE(freed);
  EXPECT_EQ(api->count("commAbort"), 1);
  EXPECT_EQ(api->count("commDestroy"), 0);
}

TEST(NcclHostLogic, SplitSplitsTheHostSideAndNccl) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api);
  auto sub = comm->split(1, 0, "tp");
  EXPECT_EQ(api->count("commSplit(1, 0)"), 1);
  EXPECT_EQ(sub->groupName(), "tp");
  EXPECT_EQ(sub->size(), 2);
}

TEST(NcclHostLogic, AllgathervSizesComeFromTheHeaders) {
  auto api = std::make_shared<FakeApi>();
  auto comm = makeComm(api, 1);
  at::Tensor t = at::zeros({2, 3});
  api->clearCalls();
  auto w = comm->allgatherv(t, {});
  EXPECT_EQ(firstGroup(api->calls()), std::vector<std::string>{"broadcast(root=0, count=6)"});
  api->completeAll();
  w->wait(std::chrono::seconds(5));
  EXPECT_EQ(w->result()[0].sizes(), (at::IntArrayRef{2, 3}));
}

}  // namespace
}  // namespace autoglm::comm::nccl
