#pragma once
// Labelled feedback for fine-tuning a checkpoint (`autoglm train --init-from
// CKPT --data FILE`): a file of `text<TAB>label` lines, mapped with the
// checkpoint's vocabulary and labels: words it does not know become <unk>, as
// at inference, and a label it does not know is an error naming the line. The
// graphs are the file's documents (the training split; validation is carved
// from it by data.val_fraction) followed by the test split of the dataset the
// checkpoint was trained on (data.dir), so that the fine-tuned model is scored
// on the same documents as the one it started from.

#include <string>

#include "core/graph/prepared_data.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

// Writes the graphs to data.cache_dir (named by a fingerprint of the file, the
// vocabulary and the graph settings) and opens them. Throws DataError naming
// the file and line of bad input.
core::graph::PreparedData prepareFeedback(const std::string& tsv_path, const CheckpointInfo& ckpt,
                                          const ExperimentConfig& cfg);

}  // namespace autoglm::trainer
