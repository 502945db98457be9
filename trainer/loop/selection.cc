#include "trainer/loop/selection.h"

namespace autoglm::trainer {

bool selectEpoch(TrainState* state, const Scores& scores, double train_loss, int64_t epoch, SelectKind select) {
  const bool by_loss = !scores.has_validation || select == SelectKind::kValLoss;
  const double tie_loss = scores.has_validation ? scores.val_loss : train_loss;
  const double score = by_loss ? -tie_loss : scores.val_metric;
  const bool improved = score > state->best_score || (score == state->best_score && tie_loss < state->best_loss);
  if (!improved) {
    ++state->epochs_since_best;
    return false;
  }
  state->best_score = score;
  state->best_loss = tie_loss;
  state->test_metric_at_best = scores.test_metric.value_or(0.0);
  state->best_epoch = epoch;
  state->epochs_since_best = 0;
  return true;
}

}  // namespace autoglm::trainer
