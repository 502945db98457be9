#include "trainer/config/validate.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/error.h"
#include "core/model/graph_classifier.h"
#include "core/text/word_vectors.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/pipeline/stage_plan.h"
#include "parallel/tensor_parallel/plan.h"

namespace autoglm::trainer {
namespace {

using parallel::data_parallel::compression::CompressionType;
using parallel::data_parallel::compression::ShapeKind;

void resolveLayout(parallel::ParallelConfig& p, int world_size) {
  const int64_t model_ranks = p.tp * p.pp;
  if (p.dp == 1 && model_ranks > 0 && world_size % model_ranks == 0) {
    p.dp = world_size / model_ranks;  // the default: data parallel over the rest (Megatron's rule)
  }
  const int64_t layout = p.dp * p.tp * p.pp;
  if (world_size == 1 && layout > 1) {
    throw ConfigError(fmt::format("parallel: dp*tp*pp = {}*{}*{} = {} ranks, but this is a single process; "
                                  "launch with mpirun -np {} autoglm train ...",
                                  p.dp, p.tp, p.pp, layout, layout));
  }
  p.validate(world_size);
}

void checkModelAgainstLayout(const ExperimentConfig& cfg) {
  const auto& p = cfg.parallel;
  const auto& m = cfg.model;
  if (m.early_exit && (p.tp > 1 || p.pp > 1)) {
    throw ConfigError(fmt::format("model.early_exit needs parallel.tp=1 and parallel.pp=1 (here tp={}, pp={}): "
                                  "exit heads are neither sharded nor given a pipeline stage's loss",
                                  p.tp, p.pp));
  }
  if (m.learned_edges > 0 && (p.tp > 1 || p.pp > 1)) {
    throw ConfigError(fmt::format("model.learned_edges={} needs parallel.tp=1 and parallel.pp=1 (here tp={}, pp={}): "
                                  "the learned edges' bias is neither sharded nor passed between pipeline stages",
                                  m.learned_edges, p.tp, p.pp));
  }
  if (m.learned_edges > 0 && m.learned_edges_after >= m.layers) {
    throw ConfigError(fmt::format("model.learned_edges_after={} must be below model.layers={}: the learned edges "
                                  "serve the blocks after that one", m.learned_edges_after, m.layers));
  }
  if (p.tp > 1) parallel::tensor_parallel::checkTensorParallel(m, p.tp);
  if (p.pp > 1) {
    const size_t parts = core::model::GraphClassifierImpl::partCount(m);
    if (!p.pipeline.boundaries.empty()) {
      parallel::pipeline::stagesFromBoundaries(p.pipeline.boundaries, parts, static_cast<int>(p.pp));
    } else {
      parallel::pipeline::checkStageCount(parts, static_cast<int>(p.pp));
    }
  }
}

void checkCompression(const ExperimentConfig& cfg) {
  const auto& c = cfg.parallel.compression;
  parallel::data_parallel::compression::checkShapeAgainstType(c);
  // At dp=1 nothing is compressed or frozen.
  const bool adagrad = cfg.train.optimizer == OptimizerKind::kAdagrad && cfg.parallel.dp > 1;
  if (adagrad && c.type == CompressionType::kOnebit && c.shape == ShapeKind::kAdam) {
    throw ConfigError("parallel.compression.shape: adam scales by Adam's second moment, which "
                      "train.optimizer=adagrad does not keep; use adam or adamw, or shape: uniform");
  }
  if (!c.freeze_variance) return;
  if (c.type != CompressionType::kOnebit && c.type != CompressionType::kTopk) {
    throw ConfigError(fmt::format("parallel.compression.freeze_variance applies to onebit and topk, not "
                                  "parallel.compression.type={}", core::enumName(c.type)));
  }
  if (c.warmup_steps <= 0) {
    throw ConfigError("parallel.compression.freeze_variance freezes Adam's second moment after the uncompressed "
                      "warm-up: set parallel.compression.warmup_steps > 0");
  }
  if (adagrad) {
    throw ConfigError("parallel.compression.freeze_variance freezes Adam's second moment, which "
                      "train.optimizer=adagrad does not keep; use adam or adamw");
  }
  if (!cfg.train.fused_optimizer && cfg.parallel.dp > 1) {
    throw ConfigError("parallel.compression.freeze_variance needs train.fused_optimizer: true (LibTorch's Adam "
                      "cannot freeze its second moment)");
  }
}

// model.embed_init: pretrained needs a file; its width is recorded in
// model.vectors_dim, which the model's shapes follow.
void resolveVectors(core::model::ModelConfig& m) {
  if (m.embed_init != core::model::EmbedInit::kPretrained) return;
  if (m.vectors.empty()) {
    throw ConfigError("model.embed_init=pretrained needs model.vectors: the word vectors file (GloVe/word2vec text "
                      "or `autoglm vectors import` output)");
  }
  if (!std::filesystem::exists(m.vectors)) {
    throw ConfigError("model.vectors=" + m.vectors +
                      ": no such file (scripts/setup-deps.sh --vectors fetches GloVe into data/vectors/)");
  }
  const int64_t dim = core::text::openWordVectors(m.vectors)->dim();
  if (m.vectors_dim != 0 && m.vectors_dim != dim) {
    throw ConfigError(detail::concat("model.vectors_dim=", m.vectors_dim, " but model.vectors=", m.vectors,
                                     " holds vectors of width ", dim));
  }
  m.vectors_dim = dim;
}

}  // namespace

void validateExperiment(ExperimentConfig* cfg, const RunRequest& run) {
  if (cfg->data.format == core::graph::DataFormat::kSynthetic) {
    if (cfg->model.kind != core::model::ModelKind::kGat) {
      throw ConfigError(fmt::format("data.format=synthetic generates document graphs for model.kind=gat, not {}",
                                    core::enumName(cfg->model.kind)));
    }
    cfg->data.synthetic.validate("data.synthetic");
  }
  resolveVectors(cfg->model);
  resolveLayout(cfg->parallel, run.world_size);
  if (cfg->model.kind != core::model::ModelKind::kKgCompletion) checkModelAgainstLayout(*cfg);
  checkCompression(*cfg);
}

}  // namespace autoglm::trainer
