// Transductive training (model.kind: corpus_gcn) on bundled R8: it learns,
// writes one prediction per test document and refuses layouts it cannot run.

#include "trainer/tasks/corpus_gcn/corpus_gcn_task.h"
#include "trainer/tasks/make_task.h"
#include "trainer/loop/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "tests/trainer/test_util.h"

namespace autoglm::trainer {
namespace {
using testing::TempDir;

ExperimentConfig corpusConfig(const std::string& out) {
  ExperimentConfig cfg = testing::smallR8Config(out);
  cfg.model.kind = core::model::ModelKind::kCorpusGcn;
  cfg.corpus.hidden = 32;
  cfg.train.optimizer = OptimizerKind::kAdam;
  cfg.train.lr = 0.02;
  cfg.train.weight_decay = 0.0;
  cfg.train.epochs = 100;
  cfg.train.patience = 0;
  return cfg;
}

// The corpus GCN's task under the one training loop, as `autoglm train` runs it.
FitResult fitCorpusGcn(const ExperimentConfig& cfg) {
  Trainer trainer(cfg, std::make_unique<CorpusGcnTask>(cfg));
  return trainer.fit(/*resume=*/false);
}

void checkCorpusGcnConfig(ExperimentConfig cfg, int ranks) { validateRun(&cfg, {ranks, false, false}); }

TEST(CorpusTrainerTest, LearnsR8AndWritesTestPredictions) {
  TempDir dir("corpus_gcn");
  const ExperimentConfig cfg = corpusConfig((dir / "run").string());
  const FitResult r = fitCorpusGcn(cfg);
  // The majority class of R8's test split is 1083 of 2189 (49.5 %).
  EXPECT_GT(r.test_metric, 0.85);
  EXPECT_GE(r.best_epoch, 1);
  EXPECT_LE(r.best_epoch, r.epochs_run);
  std::ifstream in(dir / "run" / "test_predictions.tsv");
  std::string line;
  int64_t lines = 0, right = 0;
  std::getline(in, line);
  EXPECT_EQ(line, "line\tsplit\tgold\tpredicted");
  while (std::getline(in, line)) {
    ++lines;
    const auto a = line.find('\t', line.find('\t') + 1), b = line.rfind('\t');
    right += line.substr(a + 1, b - a - 1) == line.substr(b + 1);
  }
  EXPECT_EQ(lines, 2189);
  EXPECT_NEAR(static_cast<double>(right) / static_cast<double>(lines), r.test_metric, 1e-9);
  EXPECT_TRUE(std::filesystem::exists(dir / "run" / "result.json"));
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// corpus.refit: the epoch chosen on validation is retrained on training and
// validation documents; the run counts both trainings and predicts with the
// second model.
TEST(CorpusTrainerTest, RefitRetrainsForTheChosenEpochsOnTrainingAndValidation) {
  TempDir dir("corpus_gcn_refit");
  ExperimentConfig cfg = corpusConfig((dir / "plain").string());
  cfg.train.epochs = 40;
  const FitResult plain = fitCorpusGcn(cfg);
  cfg.corpus.refit = true;
  cfg.run.out_dir = (dir / "refit").string();
  const FitResult refit = fitCorpusGcn(cfg);
  // The selection pass is the plain run itself (same seed, same split).
  EXPECT_EQ(refit.best_epoch, plain.best_epoch);
  EXPECT_EQ(refit.epochs_run, plain.epochs_run + plain.best_epoch);
  EXPECT_GT(refit.test_metric, 0.8);  // majority class: 0.495
  EXPECT_NE(slurp(dir / "refit" / "test_predictions.tsv"), slurp(dir / "plain" / "test_predictions.tsv"));
  EXPECT_NE(slurp(dir / "refit" / "result.json").find("\"refit\": true"), std::string::npos);
}

TEST(CorpusTrainerTest, RefusesParallelLayoutsAndPretraining) {
  ExperimentConfig cfg = corpusConfig("unused");
  EXPECT_NO_THROW(checkCorpusGcnConfig(cfg, 1));
  EXPECT_THROW(checkCorpusGcnConfig(cfg, 2), ConfigError);
  try {
    ExperimentConfig resumed = cfg;
    validateRun(&resumed, {1, /*resume=*/true, false});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  cfg.parallel.dp = 2;
  EXPECT_THROW(checkCorpusGcnConfig(cfg, 1), ConfigError);
  cfg.parallel.dp = 1;
  cfg.pretrain.epochs = 1;
  try {
    checkCorpusGcnConfig(cfg, 1);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("pretrain.epochs"), std::string::npos);
  }
}

}  // namespace
}  // namespace autoglm::trainer
