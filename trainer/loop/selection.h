#pragma once
// Model selection and early stopping, one rule for every task (train.select,
// train.patience). An epoch is the best so far when its selection score is
// higher than the best one's, or equal with a lower tie-breaking loss:
//   val_accuracy  score = the validation metric, ties broken by validation loss
//   val_loss      score = minus the validation loss (ties: the same loss)
// Without a validation split the training loss stands for the validation loss.
// An epoch that is not the best adds one to the epochs since the best;
// training stops when they reach train.patience (0: never).

#include <cstdint>

#include "trainer/config/experiment_config.h"
#include "trainer/loop/task.h"
#include "trainer/loop/train_state.h"

namespace autoglm::trainer {

// Scores `scores` of epoch `epoch` (1-based) into state's selection fields
// (best_score, best_loss, best_epoch, test_metric_at_best, epochs_since_best);
// returns true when it is the best so far.
bool selectEpoch(TrainState* state, const Scores& scores, double train_loss, int64_t epoch, SelectKind select);

// True when train.patience epochs have passed without a new best.
inline bool patienceExhausted(const TrainState& state, int64_t patience) {
  return patience > 0 && state.epochs_since_best >= patience;
}

}  // namespace autoglm::trainer
