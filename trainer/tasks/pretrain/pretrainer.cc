#include "trainer/tasks/pretrain/pretrainer.h"

#include <filesystem>

#include "core/error.h"

namespace autoglm::trainer {
namespace {

// The loop's settings for pre-training: its epochs, one batch per step, no
// early stopping or step limit, its own folder.
ExperimentConfig loopConfig(const ExperimentConfig& cfg) {
  ExperimentConfig c = cfg;
  c.run.out_dir = Pretrainer::runDir(cfg);
  c.train.epochs = cfg.pretrain.epochs;
  c.train.grad_accumulation = 1;
  c.train.patience = 0;
  c.train.max_steps = 0;
  c.train.checkpoint_every = 0;
  return c;
}

}  // namespace

std::string Pretrainer::runDir(const ExperimentConfig& cfg) {
  return (std::filesystem::path(cfg.run.out_dir) / "pretrain").string();
}

Pretrainer::Pretrainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data)
    : epochs_(cfg.pretrain.epochs),
      loop_(loopConfig(cfg), std::make_unique<PretrainTask>(cfg, data)),
      task_(static_cast<PretrainTask&>(loop_.task())) {}

PretrainResult Pretrainer::run() {
  if (epochs_ < 1) {
    throw ConfigError("pretrain.epochs=0: nothing to pre-train; set pretrain.epochs (e.g. --set pretrain.epochs=5)");
  }
  const FitResult fit = loop_.fit(/*resume=*/false);
  PretrainResult r;
  r.checkpoint = task_.checkpoint();
  r.epochs = task_.epochs();
  r.steps = fit.steps;
  return r;
}

}  // namespace autoglm::trainer
