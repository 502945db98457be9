#pragma once
// A kg_completion checkpoint made ready on one process, without a Trainer,
// for `autoglm eval` and `autoglm serve`: its config (overrides applied, so
// that --set kg.data_dir=... points at another copy of the graph), the graph
// (names, splits) and the whole tables, whatever tensor-parallel size it was
// written at (readKgTables reslices).

#include <memory>
#include <string>
#include <vector>

#include "core/kg/kg_dataset.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/tasks/kg_completion/kg_model.h"
#include "trainer/tasks/kg_completion/kg_ranking.h"

namespace autoglm::trainer {

struct KgInference {
  CheckpointInfo ckpt;
  ExperimentConfig cfg;
  core::kg::KgDataset data;
  std::unique_ptr<KgModel> model;  // tp rank 0 of 1: every entity row
};

// Throws ConfigError when the checkpoint is not model.kind kg_completion,
// CheckpointError when it was written for another number of entities or
// relations than the graph in kg.data_dir has, DataError for the graph.
KgInference loadKgInference(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides);

// The known answers of the splits named in `splits` ("train,valid,test",
// kg.filter's form). Throws ConfigError naming kg.filter for another name.
core::kg::FilterIndex kgFilter(const std::string& splits, const core::kg::KgDataset& data);

// Filtered ranking of the test split (kg.filter, kg.eval_batch) on one process.
RankingMetrics rankKgTest(const KgInference& kg);

}  // namespace autoglm::trainer
