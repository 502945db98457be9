// Trains briefly on the bundled R8 data and checks that the model learned
// (test accuracy well above the majority-class rate), then evaluates and
// predicts from the saved checkpoint as a user would.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/text/text_dataset.h"
#include "tests/trainer/test_util.h"
#include "launch/commands.h"
#include "core/graph/prepared_data.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"
#include "core/model/token_embedding.h"

#include <limits>

namespace autoglm::trainer {
namespace {
using namespace launch;  // the CLI commands (launch/commands.h)
using testing::TempDir;

TEST(EndToEnd, TrainsOnR8WellAboveMajorityRateAndPredictsFromCheckpoint) {
  TempDir d("e2e");
  ExperimentConfig cfg = testing::smallR8Config(d.str());
  cfg.model.embed_dim = 64;
  cfg.model.heads = 2;
  cfg.model.head_dim = 32;
  cfg.model.head_hidden = 64;
  cfg.train.batch_graphs = 32;
  cfg.train.epochs = 3;
  cfg.train.lr = 0.003;
  core::graph::PreparedData data = prepareData(cfg);

  // Majority-class rate of the test split ("earn": 1083 of 2189).
  const auto test_idx = data.indicesOf(core::text::Split::kTest);
  std::vector<int64_t> counts(data.label_names.size(), 0);
  for (int64_t i : test_idx) ++counts[static_cast<size_t>(data.store.graph(i).label)];
  const double majority = static_cast<double>(*std::max_element(counts.begin(), counts.end())) /
                          static_cast<double>(test_idx.size());
  EXPECT_NEAR(majority, 1083.0 / 2189.0, 1e-9);

  ClassifierTrainer trainer(cfg, data);
  FitResult r = trainer.fit(false);
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_GT(r.test_metric, majority + 0.3) << "test accuracy " << r.test_metric;
  std::cout << "end-to-end: test accuracy " << r.test_metric << " (majority " << majority << ")\n";

  // metrics.jsonl has one line per epoch and a final line.
  std::ifstream metrics(d / "metrics.jsonl");
  std::string line;
  int epochs = 0, done = 0;
  while (std::getline(metrics, line)) {
    epochs += line.find("\"event\":\"epoch\"") != std::string::npos;
    done += line.find("\"event\":\"done\"") != std::string::npos;
  }
  EXPECT_EQ(epochs, 3);
  EXPECT_EQ(done, 1);

  // predict from the run directory (best checkpoint): labels for real test
  // documents mostly match, and an empty line is reported, not crashed on.
  const std::string dir = std::string(AUTOGLM_SOURCE_ROOT) + "/data/r8/";
  core::text::TextDataset ds = core::text::TextDataset::load(dir + "corpus.clean.txt", dir + "labels.txt");
  std::ostringstream input;
  std::vector<std::string> truth;
  for (int64_t k = 0; k < 40; ++k) {
    const int64_t i = ds.indicesOf(core::text::Split::kTest)[static_cast<size_t>(k * 50)];
    input << ds.texts[static_cast<size_t>(i)] << "\n";
    truth.push_back(ds.label_names[static_cast<size_t>(ds.labels[static_cast<size_t>(i)])]);
  }
  input << "\n";
  std::istringstream in(input.str());
  std::ostringstream out;
  EXPECT_EQ(runPredict(d.str(), {}, in, out), 1);  // 1: one line failed (the empty one)
  std::istringstream lines(out.str());
  int correct = 0, n = 0;
  while (std::getline(lines, line)) {
    const std::string label = line.substr(0, line.find('\t'));
    if (n < 40) {
      correct += label == truth[static_cast<size_t>(n)];
      const double p = std::stod(line.substr(line.find('\t') + 1));
      EXPECT_GT(p, 0.0);
      EXPECT_LE(p, 1.0);
    } else {
      EXPECT_EQ(line, "ERROR\tempty document");
    }
    ++n;
  }
  EXPECT_EQ(n, 41);
  EXPECT_GE(correct, 28) << "of 40 (majority class alone would get about 20)";
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

// A NaN in the embedding table makes every gradient non-finite.
void poison(ClassifierTrainer& t) {
  at::NoGradGuard no_grad;
  t.model()->partAs<core::model::TokenEmbedding>("embed")->table().fill_(std::numeric_limits<float>::quiet_NaN());
}

TEST(Nonfinite, ErrorNamesTheStepAndParameter) {
  testing::TempDir d("nan_error");
  ExperimentConfig cfg = testing::smallR8Config(d.str());
  const core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data);
  poison(t);
  const std::vector<int64_t> batch(t.trainIndices().begin(), t.trainIndices().begin() + 8);
  try {
    t.trainStep({batch}, 8);
    FAIL() << "a NaN gradient was applied";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step 1: the gradient of 'embed.weight' is not finite"), std::string::npos)
        << e.what();
  }
}

TEST(Nonfinite, SkipStepLeavesTheParametersAsTheyWere) {
  testing::TempDir d("nan_skip");
  ExperimentConfig cfg = testing::smallR8Config(d.str());
  cfg.train.nonfinite = NonfiniteMode::kSkipStep;
  const core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data);
  poison(t);
  std::vector<at::Tensor> before;
  for (const auto& p : t.model()->parameters()) before.push_back(p.detach().clone());
  const std::vector<int64_t> batch(t.trainIndices().begin(), t.trainIndices().begin() + 8);
  t.trainStep({batch}, 8);
  EXPECT_EQ(t.steps().skippedSteps(), 1);
  const auto after = t.model()->parameters();
  for (size_t i = 1; i < after.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i])) << "parameter " << i;
}

}  // namespace
}  // namespace autoglm::trainer
