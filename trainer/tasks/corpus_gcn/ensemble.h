#pragma once
// corpus.ensemble_checkpoint: the corpus GCN's class probabilities mixed with
// those of a trained per-document classifier (its best checkpoint) by
// corpus.ensemble_weight, or by the weight of 0, 0.1, ..., 1 with the lowest
// validation loss (corpus.ensemble_select), as BertGCN mixes BERT's. Its run
// must have used the same data, seed and data.val_fraction, so that its
// validation documents are this run's and it never trained on them; else
// ConfigError. The accuracy reported is the mixture's; the log also gives each
// model's alone.

#include <ATen/core/Tensor.h>

#include "core/text/text_dataset.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

// The GCN's probabilities `probs` mixed with the checkpoint's; the weight is
// chosen, and validation accuracy logged, with held_out: the GCN's
// probabilities from before a refit (probs itself without one). Logs both
// models' accuracy alone and prints the GCN's.
at::Tensor mixWithCheckpoint(const ExperimentConfig& cfg, const core::text::TextDataset& ds, const at::Tensor& probs,
                             const at::Tensor& held_out, const at::Tensor& val_idx, const at::Tensor& test_idx,
                             const at::Tensor& labels);

// The fraction of the documents idx whose highest score (logits or
// probabilities) is their label.
double accuracyOf(const at::Tensor& scores, const at::Tensor& idx, const at::Tensor& labels);

}  // namespace autoglm::trainer
