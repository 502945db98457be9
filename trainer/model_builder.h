#pragma once
// The classifier a run starts from: built from the model section at the run's
// seed, its embedding table initialised as model.embed_init says (from the
// training graphs' co-occurrences for ppmi_svd), and on a data-parallel group
// rank 0's parameters and buffers broadcast, so that every replica starts equal.

#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/prepared_data.h"
#include "core/model/graph_classifier.h"
#include "trainer/experiment_config.h"

namespace autoglm::trainer {

// Seeds the default generator with run.seed first. dp: null on one process;
// collective over it otherwise.
core::model::GraphClassifier buildModel(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                                        const std::vector<int64_t>& train_indices, comm::Communicator* dp);

}  // namespace autoglm::trainer
