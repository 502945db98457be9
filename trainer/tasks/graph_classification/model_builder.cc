#include "trainer/tasks/graph_classification/model_builder.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "core/model/ppmi_embedding.h"
#include "core/model/pretrained_embedding.h"
#include "core/model/token_embedding.h"
#include "parallel/tensor_parallel/plan.h"

namespace autoglm::trainer {
namespace {

// Forward seconds of each part on a sample of the training graphs (eval mode:
// no dropout, so the generator is not touched).
std::vector<double> partCosts(core::model::GraphClassifier& model, const core::graph::PreparedData& data,
                              const std::vector<int64_t>& train_indices) {
  std::vector<core::graph::GraphView> views;
  for (size_t i = 0; i < train_indices.size() && i < 64; ++i) views.push_back(data.store.graph(train_indices[i]));
  const core::graph::GraphBatch batch = core::graph::collate(views);
  at::NoGradGuard no_grad;
  model->eval();
  std::vector<double> costs(model->partNames().size(), 0.0);
  for (int rep = 0; rep < 3; ++rep) {
    at::Tensor x;
    for (size_t i = 0; i < costs.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      x = model->part(model->partNames()[i])->forward(x, batch);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      costs[i] = rep == 0 ? s : std::min(costs[i], s);
    }
  }
  model->train();
  return costs;
}

parallel::pipeline::StagePlan planStages(const ExperimentConfig& cfg, core::model::GraphClassifier& model,
                                         const core::graph::PreparedData& data,
                                         const std::vector<int64_t>& train_indices, const parallel::ParallelGrid& grid) {
  const size_t parts = model->partNames().size();
  const int pp = grid.layout().pp();
  if (pp == 1) return parallel::pipeline::StagePlan{{0}, parts};
  if (!cfg.parallel.pipeline.boundaries.empty()) {
    return parallel::pipeline::stagesFromBoundaries(cfg.parallel.pipeline.boundaries, parts, pp);
  }
  // Rank 0 measures; every rank plans from the same figures.
  std::vector<double> costs = grid.worldRank() == 0 ? partCosts(model, data, train_indices)
                                                      : std::vector<double>(parts, 0.0);
  at::Tensor t = at::empty({static_cast<int64_t>(parts)}, at::TensorOptions().dtype(at::kFloat));
  for (size_t i = 0; i < parts; ++i) t[static_cast<int64_t>(i)] = static_cast<float>(costs[i]);
  grid.world().broadcast(t, {0})->wait();
  for (size_t i = 0; i < parts; ++i) costs[i] = t[static_cast<int64_t>(i)].item<float>();
  return parallel::pipeline::balancedStages(costs, pp);
}

}  // namespace

BuiltModel buildModel(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                      const std::vector<int64_t>& train_indices, const parallel::ParallelGrid& grid) {
  // validateExperiment checked the model against the layout.
  at::manual_seed(static_cast<uint64_t>(cfg.run.seed));
  BuiltModel out;
  out.model = core::model::GraphClassifier(cfg.model, data.vocab.size(), static_cast<int64_t>(data.label_names.size()));
  core::model::GraphClassifier& model = out.model;
  if (cfg.model.embed_init == core::model::EmbedInit::kPpmiSvd) {
    const auto t0 = std::chrono::steady_clock::now();
    core::model::PpmiOptions po;
    po.dim = cfg.model.embed_dim;
    po.seed = static_cast<uint64_t>(cfg.run.seed);
    model->partAs<core::model::TokenEmbedding>("embed")->setTable(
        core::model::ppmiSvdEmbeddings(data.store, train_indices, data.vocab.size(), po));
    core::log::info0("initialised embeddings from training co-occurrences (PPMI + SVD) in {:.1f}s",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (cfg.model.embed_init == core::model::EmbedInit::kPretrained) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::unique_ptr<core::text::WordVectors> vectors = core::text::openWordVectors(cfg.model.vectors);
    core::model::PretrainedOptions po;
    po.scale = cfg.model.vectors_scale;
    po.oov = cfg.model.oov_init;
    po.seed = static_cast<uint64_t>(cfg.run.seed);
    const core::model::PretrainedTable t = core::model::pretrainedTable(data.vocab.tokens(), *vectors, po);
    model->partAs<core::model::TokenEmbedding>("embed")->setPretrained(t.table, t.from_file, cfg.model.vectors_lr);
    core::log::info0("initialised embeddings from {}: {} in {:.1f}s", cfg.model.vectors, t.describe(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  out.stages = planStages(cfg, model, data, train_indices, grid);
  if (grid.layout().pp() > 1) {
    const int s = grid.coord().pp;
    model->keepParts(out.stages.begin(s), out.stages.end(s) - 1);
    core::log::info0("pipeline of {} stages: {}", grid.layout().pp(), out.stages.describe(model->partNames()));
  }
  if (grid.layout().tp() > 1) parallel::tensor_parallel::applyTensorParallel(*model, grid.tpComm());
  if (grid.layout().dp() > 1) {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      at::Tensor t = p.detach();
      grid.dp().broadcast(t, {0})->wait();
    }
    for (auto& b : model->buffers()) grid.dp().broadcast(b, {0})->wait();
  }
  return out;
}

}  // namespace autoglm::trainer
