#pragma once
// The classifier a run starts from: built whole from the model section at the
// run's seed (the same on every rank), its embedding table initialised as
// model.embed_init says, then cut to this rank's share of the layout: the
// pipeline stage's parts (parallel.pipeline.boundaries, or balanced by each
// part's forward time measured on rank 0), the tensor-parallel shards of those
// parts; finally rank 0's parameters are broadcast over the data-parallel
// group, so that every replica starts equal.

#include <cstdint>
#include <vector>

#include "core/graph/prepared_data.h"
#include "core/model/graph_classifier.h"
#include "parallel/pipeline/stage_plan.h"
#include "trainer/config/experiment_config.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

struct BuiltModel {
  core::model::GraphClassifier model{nullptr};
  parallel::pipeline::StagePlan stages;  // one stage holding every part without pp
};

// Seeds the default generator with run.seed first. Collective over the grid.
BuiltModel buildModel(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                      const std::vector<int64_t>& train_indices, const parallel::ParallelGrid& grid);

}  // namespace autoglm::trainer
