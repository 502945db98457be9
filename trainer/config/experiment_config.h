#pragma once
// The whole experiment as one YAML file: plain structs with defaults, read and
// printed through their visit() field lists (see core/yaml_config.h). The
// sections of the lower layers are declared there (data, tokenizer, vocab,
// graph, model, parallel, comm); run, train and pretrain are the trainer's own.

#include <array>
#include <string>
#include <vector>

#include "comm/comm_config.h"
#include "core/graph/corpus_graph.h"
#include "core/graph/graph_builder.h"
#include "core/graph/prepared_data.h"
#include "core/kg/kg_config.h"
#include "core/model/model_config.h"
#include "core/text/tokenizer.h"
#include "core/text/vocab.h"
#include "core/yaml_config.h"
#include "parallel/parallel_config.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/config/pretrain_config.h"
#include "trainer/observe/progress.h"
#include "trainer/config/serve_config.h"

namespace autoglm::trainer {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
constexpr std::array<core::EnumName<LogLevel>, 4> enumNames(LogLevel) {
  return {{{LogLevel::kDebug, "debug"}, {LogLevel::kInfo, "info"}, {LogLevel::kWarn, "warn"},
           {LogLevel::kError, "error"}}};
}

struct RunConfig {
  std::string name = "run";
  std::string out_dir = "runs/run";
  int64_t seed = 42;
  int64_t threads = 0;  // intra-op threads; 0 = LibTorch default (all cores)
  LogLevel log_level = LogLevel::kInfo;
  bool trace = false;   // write a Chrome trace to <out_dir>/trace.json (trace_recorder.h)
  // Memory this rank may use ("4GiB"; "" = its cgroup's limit shared among the
  // ranks in it, or none). Tasks that size their tables up front check it.
  std::string memory_limit;

  template <class V>
  void visit(V& v) {
    v.field("name", name, core::check::nonEmpty());
    v.field("out_dir", out_dir, core::check::nonEmpty());
    v.field("seed", seed, core::check::atLeast<int64_t>(0));
    v.field("threads", threads, core::check::atLeast<int64_t>(0));
    v.field("log_level", log_level);
    v.field("trace", trace);
    v.field("memory_limit", memory_limit);
  }
};

enum class OptimizerKind { kAdam, kAdamW, kAdagrad };
constexpr std::array<core::EnumName<OptimizerKind>, 3> enumNames(OptimizerKind) {
  return {{{OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}, {OptimizerKind::kAdagrad, "adagrad"}}};
}

// train.embedding_update: how the token embedding's gradient travels and is applied.
//   dense   a table-sized gradient, reduced and stepped like every parameter
//           (default);
//   sparse  a row-sparse gradient (the rows the batch touched), reduced over
//           the data-parallel group as rows; the optimizer step is the exact
//           dense one (Adam's moments of untouched rows still decay);
//   lazy    row-sparse all the way: only touched rows' moments and values move
//           (TF's LazyAdam, PyTorch's SparseAdam); a step costs O(touched rows).
enum class EmbeddingUpdate { kDense, kSparse, kLazy };
constexpr std::array<core::EnumName<EmbeddingUpdate>, 3> enumNames(EmbeddingUpdate) {
  return {{{EmbeddingUpdate::kDense, "dense"}, {EmbeddingUpdate::kSparse, "sparse"}, {EmbeddingUpdate::kLazy, "lazy"}}};
}

// train.nonfinite: what a step whose gradient holds a NaN or inf does: stop
// with an error naming the step and parameter, or skip the update (on every rank).
enum class NonfiniteMode { kError, kSkipStep };
constexpr std::array<core::EnumName<NonfiniteMode>, 2> enumNames(NonfiniteMode) {
  return {{{NonfiniteMode::kError, "error"}, {NonfiniteMode::kSkipStep, "skip_step"}}};
}

// train.select: which epoch's model is kept ("best") and scored on the test
// split. Both read the validation split only. val_accuracy breaks ties by
// validation loss; val_loss is the mean cross-entropy, which moves smoothly
// where accuracy on a few hundred graphs jumps by single documents.
enum class SelectKind { kValAccuracy, kValLoss };
constexpr std::array<core::EnumName<SelectKind>, 2> enumNames(SelectKind) {
  return {{{SelectKind::kValAccuracy, "val_accuracy"}, {SelectKind::kValLoss, "val_loss"}}};
}

struct TrainConfig {
  int64_t epochs = 20;
  int64_t batch_graphs = 32;        // per data-parallel rank
  int64_t grad_accumulation = 1;    // micro-batches per optimizer step (synchronised on the last)
  int64_t batch_nodes = 0;          // node budget per batch; 0 = none
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  bool fused_optimizer = true;      // one-pass CPU update (same arithmetic as LibTorch's)
  EmbeddingUpdate embedding_update = EmbeddingUpdate::kDense;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  int64_t warmup_steps = 100;
  ScheduleKind schedule = ScheduleKind::kCosine;
  double min_lr_ratio = 0.0;        // floor of the cosine schedule, as a fraction of lr
  double grad_clip = 1.0;           // max global gradient norm; 0 = off
  NonfiniteMode nonfinite = NonfiniteMode::kError;
  double label_smoothing = 0.0;
  int64_t patience = 5;             // epochs without validation gain before stopping; 0 = off
  SelectKind select = SelectKind::kValAccuracy;
  int64_t checkpoint_every = 0;     // steps; 0 = end of each epoch only
  int64_t keep_checkpoints = 2;
  int64_t log_every = 20;           // steps between metric lines
  ProgressMode progress = ProgressMode::kAuto;
  int64_t eval_batch_graphs = 256;
  int64_t max_steps = 0;            // stop after this many steps in total; 0 = run all epochs

  template <class V>
  void visit(V& v) {
    v.field("epochs", epochs, core::check::atLeast<int64_t>(1));
    v.field("batch_graphs", batch_graphs, core::check::atLeast<int64_t>(1));
    v.field("batch_nodes", batch_nodes, core::check::atLeast<int64_t>(0));
    v.field("grad_accumulation", grad_accumulation, core::check::atLeast<int64_t>(1));
    v.field("optimizer", optimizer);
    v.field("fused_optimizer", fused_optimizer);
    v.field("embedding_update", embedding_update);
    v.field("lr", lr, core::check::greaterThan(0.0));
    v.field("weight_decay", weight_decay, core::check::atLeast(0.0));
    v.field("warmup_steps", warmup_steps, core::check::atLeast<int64_t>(0));
    v.field("schedule", schedule);
    v.field("min_lr_ratio", min_lr_ratio, core::check::fraction());
    v.field("grad_clip", grad_clip, core::check::atLeast(0.0));
    v.field("nonfinite", nonfinite);
    v.field("label_smoothing", label_smoothing, core::check::openFraction());
    v.field("patience", patience, core::check::atLeast<int64_t>(0));
    v.field("select", select);
    v.field("checkpoint_every", checkpoint_every, core::check::atLeast<int64_t>(0));
    v.field("keep_checkpoints", keep_checkpoints, core::check::atLeast<int64_t>(1));
    v.field("log_every", log_every, core::check::atLeast<int64_t>(1));
    v.field("progress", progress);
    v.field("eval_batch_graphs", eval_batch_graphs, core::check::atLeast<int64_t>(1));
    v.field("max_steps", max_steps, core::check::atLeast<int64_t>(0));
  }
};

struct ExperimentConfig {
  RunConfig run;
  core::graph::DataConfig data;
  core::text::TokenizerConfig tokenizer;
  core::text::VocabConfig vocab;
  core::graph::GraphConfig graph;
  core::graph::CorpusGraphConfig corpus;
  core::model::ModelConfig model;
  TrainConfig train;
  PretrainConfig pretrain;
  parallel::ParallelConfig parallel;
  comm::CommConfig comm;
  InferConfig infer;
  ServeConfig serve;
  core::kg::KgConfig kg;

  template <class V>
  void visit(V& v) {
    v.section("run", run);
    v.section("data", data);
    v.section("tokenizer", tokenizer);
    v.section("vocab", vocab);
    v.section("graph", graph);
    v.section("corpus", corpus);
    v.section("model", model);
    v.section("train", train);
    v.section("pretrain", pretrain);
    v.section("parallel", parallel);
    v.section("comm", comm);
    v.section("infer", infer);
    v.section("serve", serve);
    v.section("kg", kg);
  }

  // Loads `path`, applies "--set key=value" overrides, validates. Throws ConfigError.
  static ExperimentConfig load(const std::string& path, const std::vector<std::string>& overrides = {});
  static ExperimentConfig fromYaml(const YAML::Node& root, const std::string& source);
  std::string toYaml() const { return core::toYamlString(*this); }
};

// The graphs of the experiment's data (core::graph::loadOrPrepare).
inline core::graph::PreparedData prepareData(const ExperimentConfig& cfg, bool force = false) {
  return core::graph::loadOrPrepare(cfg.data, cfg.tokenizer, cfg.vocab, cfg.graph, force);
}

}  // namespace autoglm::trainer
