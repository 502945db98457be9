#include "parallel/tensor_parallel/plan.h"

#include "core/error.h"
#include "parallel/tensor_parallel/sharded_parts.h"

namespace autoglm::parallel::tensor_parallel {

using autoglm::detail::concat;

void checkTensorParallel(const core::model::ModelConfig& model, int64_t tp) {
  if (tp > model.heads) {
    throw ConfigError(concat("parallel.tp=", tp, " exceeds model.heads=", model.heads,
                             ": every tensor-parallel rank needs at least one head"));
  }
  if (tp > 1 && ((model.vectors_dim > 0 && model.vectors_dim != model.embed_dim) || model.vectors_lr != 1.0)) {
    throw ConfigError(concat("parallel.tp=", tp, " shards the embedding table, which needs model.vectors_lr=1 (got ",
                             model.vectors_lr, ") and vectors as wide as model.embed_dim (model.vectors_dim=",
                             model.vectors_dim, ", model.embed_dim=", model.embed_dim, ")"));
  }
  if (tp > 1 && model.update == core::model::BlockUpdate::kGated) {
    throw ConfigError(concat("parallel.tp=", tp, " shards the GAT blocks by heads, which model.update=gated does not "
                             "support (its GRU mixes every head's output); use model.update: residual"));
  }
  if (model.head_hidden > 0 && tp > model.head_hidden) {
    throw ConfigError(concat("parallel.tp=", tp, " exceeds model.head_hidden=", model.head_hidden,
                             ": every tensor-parallel rank needs at least one hidden unit of the head"));
  }
}

void applyTensorParallel(core::model::GraphClassifierImpl& model, std::shared_ptr<comm::Communicator> tp) {
  if (tp->size() == 1) return;
  checkTensorParallel(model.config(), tp->size());
  for (const auto& name : model.partNames()) {
    auto part = model.part(name);
    if (!part) continue;
    if (auto e = std::dynamic_pointer_cast<core::model::TokenEmbedding>(part)) {
      model.replacePart(name, std::make_shared<VocabParallelEmbedding>(*e, tp));
    } else if (auto b = std::dynamic_pointer_cast<core::model::GATLayer>(part)) {
      model.replacePart(name, std::make_shared<HeadParallelGAT>(*b, tp));
    } else if (auto h = std::dynamic_pointer_cast<core::model::ClassifierHead>(part)) {
      model.replacePart(name, std::make_shared<ParallelHead>(*h, tp));
    }
  }
}

}  // namespace autoglm::parallel::tensor_parallel
