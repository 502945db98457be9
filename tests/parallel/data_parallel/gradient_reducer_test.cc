// The gradient reducer in one process, over a loopback communicator that can
// simulate a second rank: bucket layout, averaging, when buckets start,
// parameters without gradients, accumulation, failures.

#include "parallel/data_parallel/gradient_reducer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "parallel/data_parallel/bucket_assignment.h"
#include "tests/loopback_communicator.h"

namespace autoglm::parallel::data_parallel {
namespace {

using test::LoopbackComm;

// Three parameters of 12, 4 and 6 floats; loss = sum(w0 x) + 2 sum(w1) + 3 sum(w2^2).
struct Params {
  std::vector<at::Tensor> p;
  Params() {
    at::manual_seed(3);
    p.push_back(at::randn({3, 4}).requires_grad_());
    p.push_back(at::randn({4}).requires_grad_());
    p.push_back(at::randn({6}).requires_grad_());
  }
  at::Tensor loss(bool use_last = true) const {
    at::Tensor x = at::arange(4, at::TensorOptions().dtype(at::kFloat));
    at::Tensor l = at::matmul(p[0], x).sum() + 2.0 * p[1].sum();
    if (use_last) l = l + 3.0 * (p[2] * p[2]).sum();
    return l;
  }
  // d loss / d p, by autograd alone.
  std::vector<at::Tensor> plainGrads(bool use_last = true) const {
    std::vector<at::Tensor> q;
    for (const auto& t : p) q.push_back(t.detach().clone().requires_grad_());
    Params copy;
    copy.p = q;
    copy.loss(use_last).backward();
    std::vector<at::Tensor> g;
    for (auto& t : q) g.push_back(t.grad().defined() ? t.grad().clone() : at::Tensor());
    return g;
  }
  void zeroGrad() {
    for (auto& t : p) t.mutable_grad() = at::Tensor();
  }
};

std::unique_ptr<GradientReducer> makeReducer(Params& ps, std::shared_ptr<comm::Communicator> comm,
                                             ReducerMode mode = ReducerMode::kOverlap, int64_t bucket_bytes = 32) {
  ReducerOptions o;
  o.mode = mode;
  o.bucket_bytes = bucket_bytes;
  return std::make_unique<GradientReducer>(ps.p, std::move(comm),
                                           compression::makeCompressor(compression::CompressionConfig{}), o);
}

// Waits up to 5 s for `n` all-reduce calls.
bool waitForCalls(const LoopbackComm& comm, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (comm.calls().size() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(GradientReducer, BucketsAreTheAssignment) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>();
  for (int64_t bytes : {32, 48, 1 << 20}) {
    auto r = makeReducer(ps, comm, ReducerMode::kOverlap, bytes);
    const auto want = assignBuckets({12, 4, 6}, bytes);
    ASSERT_EQ(r->numBuckets(), static_cast<int>(want.size())) << bytes;
    for (int b = 0; b < r->numBuckets(); ++b) {
      EXPECT_EQ(r->bucketParams(b), want[static_cast<size_t>(b)]) << "bytes " << bytes << " bucket " << b;
    }
  }
}

// Checks that the padding of every bucket it gets is zero, then fills the
// padding with garbage, as a compressor's decompressed average would.
class PaddingProbe final : public compression::Compressor {
 public:
  explicit PaddingProbe(std::vector<std::pair<int64_t, int64_t>> gaps) : gaps_(std::move(gaps)) {}
  std::string name() const override { return "probe"; }
  int64_t alignment() const override { return 8; }
  void reduce(int, at::Tensor& bucket, int64_t, comm::Communicator&) override {
    for (const auto& [offset, length] : gaps_) {
      EXPECT_TRUE(at::equal(bucket.narrow(0, offset, length), at::zeros({length}))) << "gap at " << offset;
      bucket.narrow(0, offset, length).fill_(99.0);
    }
    ++calls;
  }
  int calls = 0;

 private:
  std::vector<std::pair<int64_t, int64_t>> gaps_;
};

TEST(GradientReducer, ParametersStartAtTheCompressorsAlignment) {
  Params ps;
  // One bucket, reverse order: p2 (6) at 0, p1 (4) at 8, p0 (12) at 16.
  auto probe = std::make_unique<PaddingProbe>(std::vector<std::pair<int64_t, int64_t>>{{6, 2}, {12, 4}});
  PaddingProbe* seen = probe.get();
  GradientReducer r(ps.p, std::make_shared<LoopbackComm>(), std::move(probe), ReducerOptions{});
  ASSERT_EQ(r.numBuckets(), 1);
  EXPECT_EQ(r.bucketNumel(0), 28);
  const auto want = ps.plainGrads();
  for (int step = 0; step < 2; ++step) {
    ps.zeroGrad();
    r.beginBackward(/*sync=*/true, step);
    ps.loss().backward();
    r.finishStep();
    for (size_t i = 0; i < ps.p.size(); ++i) {
      EXPECT_TRUE(at::allclose(ps.p[i].grad(), want[i])) << "step " << step << " parameter " << i;
    }
  }
  EXPECT_EQ(seen->calls, 2);
}

// A compressor that wants a shape prior and records the one it is given.
class ShapeProbe final : public compression::Compressor {
 public:
  std::string name() const override { return "shape-probe"; }
  int64_t alignment() const override { return 8; }
  bool usesShape() const override { return true; }
  void setShape(int, at::Tensor prior) override { prior_ = std::move(prior); }
  void reduce(int, at::Tensor&, int64_t, comm::Communicator&) override { priors.push_back(prior_); }
  std::vector<at::Tensor> priors;

 private:
  at::Tensor prior_;
};

TEST(GradientReducer, HandsTheShapePriorOfEachParameterAtItsOffset) {
  Params ps;
  auto probe = std::make_unique<ShapeProbe>();
  ShapeProbe* seen = probe.get();
  GradientReducer r(ps.p, std::make_shared<LoopbackComm>(), std::move(probe), ReducerOptions{});
  // Parameter i's prior is i + 1 everywhere; parameter 1 has none yet.
  r.setShapeSource([&](int64_t i) {
    return i == 1 ? at::Tensor() : at::full(ps.p[static_cast<size_t>(i)].sizes(), static_cast<float>(i + 1));
  });
  ps.zeroGrad();
  r.beginBackward(/*sync=*/true, 0);
  ps.loss().backward();
  r.finishStep();
  ASSERT_EQ(seen->priors.size(), 1u);
  // Layout as above: p2 (6) at 0, p1 (4) at 8, p0 (12) at 16, gaps zero.
  at::Tensor want = at::zeros({28});
  want.narrow(0, 0, 6).fill_(3.f);
  want.narrow(0, 16, 12).fill_(1.f);
  EXPECT_TRUE(at::equal(seen->priors[0], want)) << seen->priors[0];

  r.setShapeSource([&](int64_t i) { return at::ones({ps.p[static_cast<size_t>(i)].numel() + 1}); });
  ps.zeroGrad();
  r.beginBackward(/*sync=*/true, 1);
  ps.loss().backward();
  EXPECT_THROW(r.finishStep(), Error);
}

TEST(GradientReducer, AveragesWithTheOtherRank) {
  Params ps;
  // The simulated second rank holds zero gradients but uses every parameter.
  auto comm = std::make_shared<LoopbackComm>(2, [](const at::Tensor& t, size_t) {
    return t.scalar_type() == at::kInt ? at::ones_like(t) : at::zeros_like(t);
  });
  auto r = makeReducer(ps, comm);
  const auto want = ps.plainGrads();
  r->beginBackward(/*sync=*/true, 0);
  ps.loss().backward();
  r->finishStep();
  for (size_t i = 0; i < ps.p.size(); ++i) {
    EXPECT_TRUE(at::allclose(ps.p[i].grad(), want[i] / 2.0)) << "parameter " << i;
  }
}

TEST(GradientReducer, OverlapStartsBucketsDuringBackwardAfterBackwardDoesNot) {
  for (ReducerMode mode : {ReducerMode::kOverlap, ReducerMode::kAfterBackward}) {
    Params ps;
    auto comm = std::make_shared<LoopbackComm>();
    auto r = makeReducer(ps, comm, mode);
    ASSERT_EQ(r->numBuckets(), 3);
    r->beginBackward(true, 0);
    ps.loss().backward();
    if (mode == ReducerMode::kOverlap) {
      // Every bucket was complete when backward returned: all three reduce
      // before finishStep() is called.
      EXPECT_TRUE(waitForCalls(*comm, 3)) << comm->calls().size() << " calls";
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      EXPECT_EQ(comm->calls().size(), 0u);
    }
    r->finishStep();
    // Three buckets in order (sizes 6, 4, 12) and the used-flags all-reduce.
    const auto calls = comm->calls();
    ASSERT_EQ(calls.size(), 3u);  // a group of one skips the flags
    EXPECT_EQ(calls[0].numel, 6);
    EXPECT_EQ(calls[1].numel, 4);
    EXPECT_EQ(calls[2].numel, 12);
  }
}

TEST(GradientReducer, UnusedParameterGetsThePeersGradientOrNone) {
  for (bool peer_uses : {true, false}) {
    Params ps;
    auto comm = std::make_shared<LoopbackComm>(2, [peer_uses](const at::Tensor& t, size_t) {
      if (t.scalar_type() == at::kInt) return peer_uses ? at::ones_like(t) : at::zeros_like(t);
      return peer_uses ? at::ones_like(t) : at::zeros_like(t);
    });
    auto r = makeReducer(ps, comm);
    r->beginBackward(true, 0);
    ps.loss(/*use_last=*/false).backward();
    r->finishStep();  // does not wait for the gradient that never comes
    if (peer_uses) {
      ASSERT_TRUE(ps.p[2].grad().defined());
      EXPECT_TRUE(at::allclose(ps.p[2].grad(), at::full({6}, 0.5f)));  // (0 + 1) / 2
    } else {
      EXPECT_FALSE(ps.p[2].grad().defined()) << "no rank used it: no gradient, as in one process";
    }
    EXPECT_TRUE(ps.p[0].grad().defined());
  }
}

TEST(GradientReducer, MicroBatchesAccumulateAndSynchroniseOnTheLast) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>();
  auto r = makeReducer(ps, comm);
  const auto once = ps.plainGrads();
  r->beginBackward(/*sync=*/false, 0);
  ps.loss().backward();
  r->beginBackward(/*sync=*/false, 0);
  ps.loss().backward();
  EXPECT_EQ(comm->calls().size(), 0u) << "no communication before the last micro-batch";
  r->beginBackward(/*sync=*/true, 0);
  ps.loss().backward();
  r->finishStep();
  for (size_t i = 0; i < ps.p.size(); ++i) EXPECT_TRUE(at::allclose(ps.p[i].grad(), once[i] * 3.0)) << i;
  EXPECT_EQ(comm->calls().size(), 3u);
}

TEST(GradientReducer, OffModeCommunicatesNothing) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>(2);
  auto r = makeReducer(ps, comm, ReducerMode::kOff);
  const auto want = ps.plainGrads();
  r->beginBackward(true, 0);
  ps.loss().backward();
  r->finishStep();
  EXPECT_EQ(comm->calls().size(), 0u);
  for (size_t i = 0; i < ps.p.size(); ++i) EXPECT_TRUE(at::allclose(ps.p[i].grad(), want[i])) << i;
}

TEST(GradientReducer, FailureIsRethrownAndTheNextStepWorks) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>();
  comm->failAt(1);
  auto r = makeReducer(ps, comm);
  r->beginBackward(true, 0);
  ps.loss().backward();
  EXPECT_THROW(r->finishStep(), CommError);
  ps.zeroGrad();
  const auto want = ps.plainGrads();
  r->beginBackward(true, 1);
  ps.loss().backward();
  r->finishStep();
  for (size_t i = 0; i < ps.p.size(); ++i) EXPECT_TRUE(at::allclose(ps.p[i].grad(), want[i])) << i;
}

TEST(GradientReducer, RejectsMisuse) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>();
  auto r = makeReducer(ps, comm);
  EXPECT_ANY_THROW(ps.loss().backward()) << "a gradient without beginBackward()";
  EXPECT_THROW(r->finishStep(), Error);
  std::vector<at::Tensor> doubles{at::zeros({2}, at::TensorOptions().dtype(at::kDouble)).requires_grad_()};
  EXPECT_THROW(GradientReducer(doubles, comm, compression::makeCompressor({}), {}), Error);
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel

namespace autoglm::parallel::data_parallel {
namespace {

TEST(GradientReducer, NonFiniteGradientIsReportedAndKeptOutOfResiduals) {
  Params ps;
  auto comm = std::make_shared<LoopbackComm>();
  compression::CompressionConfig topk;
  topk.type = compression::CompressionType::kTopk;
  topk.ratio = 0.5;
  ReducerOptions o;
  o.bucket_bytes = 32;
  GradientReducer r(ps.p, comm, compression::makeCompressor(topk), o);
  r.beginBackward(true, 0);
  // loss = ... + 2 sum(w1): make w1's gradient NaN through a NaN factor.
  (ps.loss() + (ps.p[1] * std::numeric_limits<float>::quiet_NaN()).sum()).backward();
  const StepStatus st = r.finishStep();
  EXPECT_TRUE(st.nonfinite);
  EXPECT_EQ(st.nonfinite_param, 1);
  for (const auto& [key, t] : r.compressor().state()) {
    EXPECT_TRUE(t.isfinite().all().item<bool>()) << key << " took the NaN in";
  }
  // The next, finite step is clean again.
  ps.zeroGrad();
  r.beginBackward(true, 1);
  ps.loss().backward();
  EXPECT_FALSE(r.finishStep().nonfinite);
}

TEST(GradientReducer, NonFiniteOnAnotherRankStopsEveryRank) {
  Params ps;
  // The simulated peer flags a non-finite gradient (the last element of the
  // flags all-reduce) while this rank's are finite.
  auto comm = std::make_shared<LoopbackComm>(2, [](const at::Tensor& t, size_t) {
    return t.scalar_type() == at::kInt ? at::ones_like(t) : at::zeros_like(t);
  });
  auto r = makeReducer(ps, comm);
  r->beginBackward(true, 0);
  ps.loss().backward();
  const StepStatus st = r->finishStep();
  EXPECT_TRUE(st.nonfinite);
  EXPECT_EQ(st.nonfinite_param, -1) << "not this rank's";
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel
