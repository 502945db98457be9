#pragma once
// The whole experiment as one YAML file: plain structs with defaults, read and
// printed through their visit() field lists (see core/yaml_config.h).

#include <string>
#include <vector>

#include "core/graph_builder.h"
#include "core/graph_classifier.h"
#include "core/tokenizer.h"
#include "core/vocab.h"
#include "core/yaml_config.h"
#include "comm/comm_config.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

struct RunConfig {
  std::string name = "run";
  std::string out_dir = "runs/run";
  int64_t seed = 42;
  int64_t threads = 0;  // intra-op threads; 0 = LibTorch default (all cores)
  std::string log_level = "info";

  template <class V>
  void visit(V& v) {
    v.field("name", name, check::nonEmpty());
    v.field("out_dir", out_dir, check::nonEmpty());
    v.field("seed", seed, check::atLeast<int64_t>(0));
    v.field("threads", threads, check::atLeast<int64_t>(0));
    v.field("log_level", log_level, check::oneOf({"debug", "info", "warn", "error"}));
  }
};

struct DataConfig {
  std::string format = "text_classification";
  std::string dir = "data/r8";
  std::string corpus = "corpus.clean.txt";
  std::string labels = "labels.txt";
  std::string cache_dir = ".autoglm_cache";
  double val_fraction = 0.1;        // carved from train, seeded
  std::string empty_documents = "error";  // error | skip

  template <class V>
  void visit(V& v) {
    v.field("format", format, check::oneOf({"text_classification"}));
    v.field("dir", dir, check::nonEmpty());
    v.field("corpus", corpus, check::nonEmpty());
    v.field("labels", labels, check::nonEmpty());
    v.field("cache_dir", cache_dir, check::nonEmpty());
    v.field("val_fraction", val_fraction, check::openFraction());
    v.field("empty_documents", empty_documents, check::oneOf({"error", "skip"}));
  }
};

struct TrainConfig {
  int64_t epochs = 20;
  int64_t batch_graphs = 32;        // per data-parallel rank
  int64_t grad_accumulation = 1;    // micro-batches per optimizer step (synchronised on the last)
  int64_t batch_nodes = 0;          // node budget per batch; 0 = none
  std::string optimizer = "adamw";  // adam | adamw
  bool fused_optimizer = true;      // one-pass CPU update (same arithmetic as LibTorch's)
  double lr = 2e-3;
  double weight_decay = 1e-4;
  int64_t warmup_steps = 100;
  std::string schedule = "cosine";  // cosine | constant
  double min_lr_ratio = 0.0;        // floor of the cosine schedule, as a fraction of lr
  double grad_clip = 1.0;           // max global gradient norm; 0 = off
  double label_smoothing = 0.0;
  int64_t patience = 5;             // epochs without validation gain before stopping; 0 = off
  int64_t checkpoint_every = 0;     // steps; 0 = end of each epoch only
  int64_t keep_checkpoints = 2;
  int64_t log_every = 20;           // steps between metric lines
  std::string progress = "auto";    // auto | bar | lines | off
  int64_t eval_batch_graphs = 256;
  int64_t max_steps = 0;            // stop after this many steps in total; 0 = run all epochs

  template <class V>
  void visit(V& v) {
    v.field("epochs", epochs, check::atLeast<int64_t>(1));
    v.field("batch_graphs", batch_graphs, check::atLeast<int64_t>(1));
    v.field("batch_nodes", batch_nodes, check::atLeast<int64_t>(0));
    v.field("grad_accumulation", grad_accumulation, check::atLeast<int64_t>(1));
    v.field("optimizer", optimizer, check::oneOf({"adam", "adamw"}));
    v.field("fused_optimizer", fused_optimizer);
    v.field("lr", lr, check::greaterThan(0.0));
    v.field("weight_decay", weight_decay, check::atLeast(0.0));
    v.field("warmup_steps", warmup_steps, check::atLeast<int64_t>(0));
    v.field("schedule", schedule, check::oneOf({"cosine", "constant"}));
    v.field("min_lr_ratio", min_lr_ratio, check::fraction());
    v.field("grad_clip", grad_clip, check::atLeast(0.0));
    v.field("label_smoothing", label_smoothing, check::openFraction());
    v.field("patience", patience, check::atLeast<int64_t>(0));
    v.field("checkpoint_every", checkpoint_every, check::atLeast<int64_t>(0));
    v.field("keep_checkpoints", keep_checkpoints, check::atLeast<int64_t>(1));
    v.field("log_every", log_every, check::atLeast<int64_t>(1));
    v.field("progress", progress, check::oneOf({"auto", "bar", "lines", "off"}));
    v.field("eval_batch_graphs", eval_batch_graphs, check::atLeast<int64_t>(1));
    v.field("max_steps", max_steps, check::atLeast<int64_t>(0));
  }
};

struct ExperimentConfig {
  RunConfig run;
  DataConfig data;
  core::TokenizerConfig tokenizer;
  core::VocabConfig vocab;
  core::GraphConfig graph;
  core::ModelConfig model;
  TrainConfig train;
  parallel::ParallelConfig parallel;
  comm::CommConfig comm;

  template <class V>
  void visit(V& v) {
    v.section("run", run);
    v.section("data", data);
    v.section("tokenizer", tokenizer);
    v.section("vocab", vocab);
    v.section("graph", graph);
    v.section("model", model);
    v.section("train", train);
    v.section("parallel", parallel);
    v.section("comm", comm);
  }

  // Loads `path`, applies "--set key=value" overrides, validates. Throws ConfigError.
  static ExperimentConfig load(const std::string& path, const std::vector<std::string>& overrides = {});
  static ExperimentConfig fromYaml(const YAML::Node& root, const std::string& source);
  std::string toYaml() const { return toYamlString(*this); }
};

}  // namespace autoglm::trainer
