#include "trainer/inference/evaluator.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include "core/graph/graph_batch.h"
#include "tests/trainer/test_util.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {
namespace {

using testing::TempDir;

TEST(Evaluator, AgreesWithItsOwnProbabilitiesForAnyBatchSize) {
  TempDir d("eval");
  const ExperimentConfig cfg = testing::smallR8Config(d.str());
  const core::graph::PreparedData data = prepareData(cfg);
  at::manual_seed(11);
  core::model::GraphClassifier model(cfg.model, data.vocab.size(), static_cast<int64_t>(data.label_names.size()));
  std::vector<int64_t> idx = data.indicesOf(core::text::Split::kTest);
  idx.resize(300);

  Evaluator whole(model, 1000);
  std::vector<core::graph::GraphView> views;
  for (int64_t i : idx) views.push_back(data.store.graph(i));
  const at::Tensor probs = whole.classify(views).probabilities;
  ASSERT_EQ(probs.size(0), 300);
  EXPECT_TRUE(at::allclose(probs.sum(1), at::ones({300}), 1e-5, 1e-5));
  const at::Tensor labels = core::graph::collate(views).labels;
  const double want_acc = probs.argmax(1).eq(labels).sum().item<double>() / 300.0;
  const double want_loss = -probs.gather(1, labels.unsqueeze(1)).log().mean().item<double>();

  for (int64_t batch : {1, 7, 256, 1000}) {
    Evaluator e(model, batch);
    const EvalResult r = e.evaluate(data.store, idx);
    EXPECT_EQ(r.count, 300);
    EXPECT_DOUBLE_EQ(r.accuracy, want_acc) << "batch " << batch;
    EXPECT_NEAR(r.loss, want_loss, 1e-4) << "batch " << batch;
  }
  EXPECT_EQ(Evaluator(model, 8).evaluate(data.store, {}).count, 0);
}

}  // namespace
}  // namespace autoglm::trainer
