// validateRun (trainer/tasks/make_task.h) and validateExperiment
// (trainer/config/validate.h): every cross-field rule, on the config alone,
// before any data or MPI.

#include "trainer/config/validate.h"
#include "trainer/tasks/make_task.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/error.h"
#include "tests/trainer/test_util.h"

namespace autoglm::trainer {
namespace {

std::string errorOf(ExperimentConfig cfg, int world) {
  try {
    validateRun(&cfg, {world, false, false});
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

ExperimentConfig base() {
  ExperimentConfig cfg = testing::smallR8Config("unused");
  cfg.data.dir = "/nonexistent";  // never read: validation prepares nothing
  return cfg;
}

TEST(ValidateExperiment, ResolvesDataParallelFromTheWorld) {
  ExperimentConfig cfg = base();
  cfg.parallel.tp = 2;
  validateExperiment(&cfg, {8, false, false});
  EXPECT_EQ(cfg.parallel.dp, 4);
}

TEST(ValidateExperiment, LayoutAgainstTheWorld) {
  ExperimentConfig cfg = base();
  cfg.parallel.dp = 3;
  EXPECT_NE(errorOf(cfg, 4).find("does not equal world size 4"), std::string::npos);
  cfg.parallel.dp = 2;
  EXPECT_NE(errorOf(cfg, 1).find("this is a single process"), std::string::npos);
}

TEST(ValidateExperiment, TensorParallelAgainstHeadsBeforeAnyData) {
  ExperimentConfig cfg = base();
  cfg.model.heads = 4;
  cfg.parallel.tp = 8;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = errorOf(cfg, 8);
  EXPECT_NE(e.find("parallel.tp=8 exceeds model.heads=4"), std::string::npos) << e;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);  // sanity only
}

TEST(ValidateExperiment, PipelineAgainstTheModelsParts) {
  ExperimentConfig cfg = base();
  cfg.model.layers = 1;  // embed, block0, readout, head
  cfg.parallel.pp = 5;
  EXPECT_NE(errorOf(cfg, 5).find("parallel.pp=5 exceeds the model's 4 parts"), std::string::npos);
  cfg.parallel.pp = 2;
  cfg.parallel.pipeline.boundaries = {7};
  EXPECT_NE(errorOf(cfg, 2).find("parallel.pipeline.boundaries"), std::string::npos);
}

TEST(ValidateExperiment, ModelFeaturesAgainstTheLayout) {
  ExperimentConfig cfg = base();
  cfg.model.early_exit = true;
  cfg.parallel.pp = 2;
  EXPECT_NE(errorOf(cfg, 2).find("model.early_exit needs parallel.tp=1"), std::string::npos);
  cfg = base();
  cfg.model.learned_edges = 4;
  cfg.parallel.tp = 2;
  EXPECT_NE(errorOf(cfg, 2).find("model.learned_edges=4 needs"), std::string::npos);
}

TEST(ValidateExperiment, CompressionSettingsAgainstEachOther) {
  using parallel::data_parallel::compression::CompressionType;
  ExperimentConfig cfg = base();
  cfg.parallel.compression.freeze_variance = true;
  EXPECT_NE(errorOf(cfg, 2).find("applies to onebit and topk"), std::string::npos);
  cfg.parallel.compression.type = CompressionType::kTopk;
  EXPECT_NE(errorOf(cfg, 2).find("warmup_steps > 0"), std::string::npos);
  cfg.parallel.compression.warmup_steps = 10;
  cfg.train.fused_optimizer = false;
  EXPECT_NE(errorOf(cfg, 2).find("train.fused_optimizer"), std::string::npos);
  EXPECT_EQ(errorOf(cfg, 1), "");  // one process: nothing is compressed or frozen
  cfg.train.fused_optimizer = true;
  cfg.train.optimizer = OptimizerKind::kAdagrad;  // no second moment to freeze or shape by
  EXPECT_NE(errorOf(cfg, 2).find("train.optimizer=adagrad"), std::string::npos);
  cfg.parallel.compression.freeze_variance = false;
  EXPECT_EQ(errorOf(cfg, 2), "");
  cfg.parallel.compression.type = CompressionType::kOnebit;
  cfg.parallel.compression.shape = parallel::data_parallel::compression::ShapeKind::kAdam;
  EXPECT_NE(errorOf(cfg, 2).find("shape: adam scales by Adam's second moment"), std::string::npos);
  EXPECT_EQ(errorOf(cfg, 1), "");
}

TEST(ValidateExperiment, WhatAModelKindSupports) {
  ExperimentConfig cfg = base();
  cfg.model.kind = core::model::ModelKind::kCorpusGcn;
  EXPECT_NE(errorOf(cfg, 2).find("model.kind=corpus_gcn trains on one process"), std::string::npos);
  cfg.pretrain.epochs = 1;
  EXPECT_NE(errorOf(cfg, 1).find("pretrain.epochs"), std::string::npos);
  cfg = base();
  cfg.pretrain.epochs = 1;
  EXPECT_NE(errorOf(cfg, 2).find("pre-trains on one process"), std::string::npos);
  EXPECT_EQ(errorOf(cfg, 1), "");
}

}  // namespace
}  // namespace autoglm::trainer
