// The inference and feedback loop on one process: a checkpoint with early exit
// answers through Predictor (exits by threshold, the same as `predict`),
// labelled feedback is mapped with the checkpoint's vocabulary and labels
// (errors name the line), `train --init-from` starts from the checkpoint's
// parameters, and `compare` scores two checkpoints side by side.

#include "trainer/tasks/graph_classification/feedback_data.h"

#include <ATen/Functions.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/text/vocab.h"
#include "tests/trainer/test_util.h"
#include "launch/commands.h"
#include "trainer/inference/compare.h"
#include "trainer/inference/predictor.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
using namespace launch;  // the CLI commands (launch/commands.h)
using testing::TempDir;

ExperimentConfig exitConfig(const std::string& out) {
  ExperimentConfig cfg = testing::smallR8Config(out);
  cfg.model.layers = 2;
  cfg.model.early_exit = true;
  cfg.train.epochs = 1;
  return cfg;
}

// One checkpoint shared by the tests of this file.
class Feedback : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("feedback");
    cfg_ = new ExperimentConfig(exitConfig((*dir_ / "run").string()));
    core::graph::PreparedData data = prepareData(*cfg_);
    ClassifierTrainer t(*cfg_, data);
    t.fit(false);
  }
  static void TearDownTestSuite() {
    delete cfg_;
    delete dir_;
  }
  static std::string run() { return (*dir_ / "run").string(); }
  static std::string write(const std::string& name, const std::string& text) {
    const std::string p = (*dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  static TempDir* dir_;
  static ExperimentConfig* cfg_;
};
TempDir* Feedback::dir_ = nullptr;
ExperimentConfig* Feedback::cfg_ = nullptr;

TEST_F(Feedback, PredictorExitsByThresholdAndAgreesWithPredict) {
  const std::vector<std::string> texts = {"oil prices rose sharply opec output", "quarterly net profit dividend",
                                          "bank rates money market interest"};
  Predictor every(run(), {});
  Predictor first(run(), {"infer.exit_threshold=0"});
  std::vector<core::graph::Graph> graphs;
  for (const auto& t : texts) graphs.push_back(*every.prepare(t));
  std::vector<core::graph::GraphView> views;
  for (const auto& g : graphs) views.push_back(g.view());
  const Classified all = every.classify(views), early = first.classify(views);
  EXPECT_TRUE(at::equal(all.exit_block, at::full({3}, 2, at::TensorOptions().dtype(at::kLong))));
  EXPECT_TRUE(at::equal(early.exit_block, at::ones({3}, at::TensorOptions().dtype(at::kLong))));
  EXPECT_FALSE(every.prepare("   ...  ").has_value()) << "no tokens";

  std::istringstream in(texts[0] + "\n" + texts[1] + "\n" + texts[2] + "\n");
  std::ostringstream out;
  ASSERT_EQ(runPredict(run(), {}, in, out), 0);
  std::istringstream lines(out.str());
  std::string line;
  for (int64_t i = 0; std::getline(lines, line); ++i) {
    const int64_t k = all.probabilities[i].argmax().item<int64_t>();
    EXPECT_EQ(line, every.labels()[static_cast<size_t>(k)] + "\t" +
                        fmt::format("{:.4f}", all.probabilities[i][k].item<double>()) + "\t2");
  }
}

TEST_F(Feedback, FileMapsToTheCheckpointsVocabularyAndLabels) {
  const CheckpointInfo ckpt = openCheckpoint(run(), true);
  const std::string tsv = write("good.tsv", "zzqxunknownword oil prices\tcrude\nnet profit\tearn\n");
  ExperimentConfig cfg = *cfg_;
  const core::graph::PreparedData d = prepareFeedback(tsv, ckpt, cfg);
  const auto train = d.indicesOf(core::text::Split::kTrain);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(d.indicesOf(core::text::Split::kTest).size(), 2189u) << "the checkpoint's dataset's test split";
  EXPECT_EQ(d.label_names, ckpt.label_names);
  const auto g0 = d.store.graph(train[0]);
  EXPECT_EQ(d.label_names[static_cast<size_t>(g0.label)], "crude");
  EXPECT_EQ(g0.tokens[0], core::text::Vocab::kUnk) << "an unknown word maps to <unk>, as at inference";

  auto error = [&](const std::string& name, const std::string& text) {
    try {
      prepareFeedback(write(name, text), ckpt, cfg);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("bad_label.tsv", "net profit\tearn\noil\tpetroleum\n").find("bad_label.tsv:2: label 'petroleum' is "
                                                                               "not one of the checkpoint's labels"),
            std::string::npos);
  EXPECT_NE(error("no_tab.tsv", "net profit earn\n").find("no_tab.tsv:1: expected text<TAB>label"), std::string::npos);
  EXPECT_NE(error("empty.tsv", "net profit\tearn\n...\tearn\n").find("empty.tsv:2: empty document"),
            std::string::npos);
}

TEST_F(Feedback, InitFromStartsAtTheCheckpointAndCompareScoresBoth) {
  const std::string tsv = write("more.tsv", "oil prices opec crude output\tcrude\nnet profit dividend\tearn\n"
                                            "money market interest rates\tinterest\nwheat grain exports\tgrain\n");
  ConfigArgs args;
  args.overrides = {"run.out_dir=" + (*dir_ / "tuned").string(), "train.lr=1e-12", "train.warmup_steps=0"};
  TrainOptions opts;
  opts.init_from = run();
  opts.data_file = tsv;
  ASSERT_EQ(runTrain(args, opts), 0);
  // A learning rate of 1e-12 leaves the parameters where they started: the
  // checkpoint's, so both predict alike. A fresh initialisation would not.
  std::ostringstream out;
  ASSERT_EQ(runCompare(run(), (*dir_ / "tuned").string(), {}, out), 0);
  EXPECT_NE(out.str().find("2189 test documents; agreement 1.0000; right only in A 0, only in B 0"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("| F1 earn (1083 docs) |"), std::string::npos) << out.str();

  opts.data_file = write("bad.tsv", "x\tnot-a-label\n");
  args.overrides[0] = "run.out_dir=" + (*dir_ / "tuned2").string();
  EXPECT_THROW(runTrain(args, opts), DataError);
}

TEST(ClassScores, HandComputed) {
  // labels    0 0 0 1 1 2
  // predicted 0 0 1 1 2 2
  const auto s = classScores({0, 0, 1, 1, 2, 2}, {0, 0, 0, 1, 1, 2}, 4);
  EXPECT_DOUBLE_EQ(s[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(s[0].recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s[0].f1, 0.8);
  EXPECT_DOUBLE_EQ(s[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(s[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(s[2].f1, 2.0 / 3.0);  // precision 1/2, recall 1
  EXPECT_EQ(s[3].support, 0);
  EXPECT_DOUBLE_EQ(s[3].f1, 0.0);
}

}  // namespace
}  // namespace autoglm::trainer
