#include "trainer/config/validate.h"

#include <fmt/format.h>

#include "core/error.h"
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

// Parts of the classifier: embed, the blocks (with their exits), readout, head.
size_t modelParts(const core::model::ModelConfig& m) {
  const auto layers = static_cast<size_t>(m.layers);
  return layers + 3 + (m.early_exit && layers > 0 ? layers - 1 : 0);
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
    const size_t parts = modelParts(m);
    if (!p.pipeline.boundaries.empty()) {
      parallel::pipeline::stagesFromBoundaries(p.pipeline.boundaries, parts, static_cast<int>(p.pp));
    } else if (static_cast<size_t>(p.pp) > parts) {
      throw ConfigError(fmt::format("parallel.pp={} exceeds the model's {} parts (embed, blocks, readout, head): "
                                    "every stage needs one", p.pp, parts));
    }
  }
}

void checkCompression(const ExperimentConfig& cfg) {
  const auto& c = cfg.parallel.compression;
  if (c.shape != ShapeKind::kUniform && c.type != CompressionType::kOnebit) {
    throw ConfigError(fmt::format("parallel.compression.shape={}: only parallel.compression.type=onebit uses a shape "
                                  "(type is {})", core::enumName(c.shape), core::enumName(c.type)));
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
  if (!cfg.train.fused_optimizer && cfg.parallel.dp > 1) {  // at dp=1 nothing is compressed or frozen
    throw ConfigError("parallel.compression.freeze_variance needs train.fused_optimizer: true (LibTorch's Adam "
                      "cannot freeze its second moment)");
  }
}

}  // namespace

void validateExperiment(ExperimentConfig* cfg, const RunRequest& run) {
  resolveLayout(cfg->parallel, run.world_size);
  checkModelAgainstLayout(*cfg);
  checkCompression(*cfg);
}

}  // namespace autoglm::trainer
