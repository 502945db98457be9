#include "trainer/model_builder.h"

#include <ATen/Functions.h>

#include <chrono>

#include "core/log.h"
#include "core/model/ppmi_embedding.h"
#include "core/model/token_embedding.h"

namespace autoglm::trainer {

core::model::GraphClassifier buildModel(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                                        const std::vector<int64_t>& train_indices, comm::Communicator* dp) {
  at::manual_seed(static_cast<uint64_t>(cfg.run.seed));
  core::model::GraphClassifier model(cfg.model, data.vocab.size(), static_cast<int64_t>(data.label_names.size()));
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
  if (dp != nullptr && dp->size() > 1) {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      at::Tensor t = p.detach();
      dp->broadcast(t, {0})->wait();
    }
    for (auto& b : model->buffers()) dp->broadcast(b, {0})->wait();
  }
  return model;
}

}  // namespace autoglm::trainer
