// Model selection and early stopping (trainer/loop/selection.h), the one rule
// every task's epochs are scored by.

#include "trainer/loop/selection.h"

#include <gtest/gtest.h>

namespace autoglm::trainer {
namespace {

Scores scores(double acc, double loss) {
  Scores s;
  s.val_metric = acc;
  s.val_loss = loss;
  s.test_metric = acc - 0.01;
  return s;
}

TEST(Selection, AccuracyWithTiesBrokenByLoss) {
  TrainState st;
  EXPECT_TRUE(selectEpoch(&st, scores(0.90, 0.5), 1.0, 1, SelectKind::kValAccuracy));
  EXPECT_FALSE(selectEpoch(&st, scores(0.89, 0.1), 1.0, 2, SelectKind::kValAccuracy));
  EXPECT_EQ(st.epochs_since_best, 1);
  EXPECT_FALSE(selectEpoch(&st, scores(0.90, 0.6), 1.0, 3, SelectKind::kValAccuracy));  // tie, higher loss
  EXPECT_TRUE(selectEpoch(&st, scores(0.90, 0.4), 1.0, 4, SelectKind::kValAccuracy));   // tie, lower loss
  EXPECT_EQ(st.best_epoch, 4);
  EXPECT_EQ(st.epochs_since_best, 0);
  EXPECT_DOUBLE_EQ(st.best_score, 0.90);
  EXPECT_DOUBLE_EQ(st.best_loss, 0.4);
  EXPECT_DOUBLE_EQ(st.test_metric_at_best, 0.89);
}

// Losses above 1 at the first epochs (52 classes: ln 52 = 3.95) must still
// select: the fresh state's score is below any minus-loss.
TEST(Selection, ValidationLossSelectsFromTheFirstEpochWhateverItsSize) {
  TrainState st;
  EXPECT_TRUE(selectEpoch(&st, scores(0.1, 3.9), 5.0, 1, SelectKind::kValLoss));
  EXPECT_DOUBLE_EQ(st.best_score, -3.9);
  EXPECT_TRUE(selectEpoch(&st, scores(0.05, 2.0), 5.0, 2, SelectKind::kValLoss));  // accuracy ignored
  EXPECT_FALSE(selectEpoch(&st, scores(0.9, 2.5), 5.0, 3, SelectKind::kValLoss));
  EXPECT_EQ(st.best_epoch, 2);
}

TEST(Selection, WithoutValidationTheTrainingLossDecides) {
  TrainState st;
  Scores none;
  none.has_validation = false;
  EXPECT_TRUE(selectEpoch(&st, none, 2.0, 1, SelectKind::kValAccuracy));
  EXPECT_FALSE(selectEpoch(&st, none, 2.5, 2, SelectKind::kValAccuracy));
  EXPECT_TRUE(selectEpoch(&st, none, 1.5, 3, SelectKind::kValAccuracy));
  EXPECT_DOUBLE_EQ(st.best_loss, 1.5);
}

TEST(Selection, PatienceCountsEpochsSinceTheBest) {
  TrainState st;
  selectEpoch(&st, scores(0.9, 0.5), 1.0, 1, SelectKind::kValAccuracy);
  selectEpoch(&st, scores(0.8, 0.5), 1.0, 2, SelectKind::kValAccuracy);
  EXPECT_FALSE(patienceExhausted(st, 2));
  selectEpoch(&st, scores(0.8, 0.5), 1.0, 3, SelectKind::kValAccuracy);
  EXPECT_TRUE(patienceExhausted(st, 2));
  EXPECT_FALSE(patienceExhausted(st, 0));  // 0: never
}

}  // namespace
}  // namespace autoglm::trainer
