#pragma once
// The tensor-parallel plan: the model's parts swapped, by name, for their
// sharded versions (sharded_parts.h). The model itself knows nothing of it.

#include <cstdint>
#include <memory>

#include "comm/communicator.h"
#include "core/model/graph_classifier.h"

namespace autoglm::parallel::tensor_parallel {

// Throws ConfigError when `tp` ranks cannot share the model: every rank needs
// at least one head (model.heads) and one hidden unit of the head
// (model.head_hidden, unless 0).
void checkTensorParallel(const core::model::ModelConfig& model, int64_t tp);

// embed -> VocabParallelEmbedding, blockK -> HeadParallelGAT, head ->
// ParallelHead (readout stays replicated); parts already removed (other
// pipeline stages) are skipped. A group of one leaves the model as it is.
void applyTensorParallel(core::model::GraphClassifierImpl& model, std::shared_ptr<comm::Communicator> tp);

}  // namespace autoglm::parallel::tensor_parallel
