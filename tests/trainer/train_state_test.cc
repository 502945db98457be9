#include "trainer/train_state.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"

namespace autoglm::trainer {
namespace {

TrainState sample() {
  TrainState s;
  s.step = 120;
  s.epoch = 3;
  s.batch_in_epoch = 17;
  s.graphs_in_epoch = 544;
  s.elapsed_seconds = 12.5;
  s.best_val_accuracy = 0.9612;
  s.best_val_loss = 0.25;
  s.test_accuracy_at_best = 0.9701;
  s.best_epoch = 2;
  s.bad_epochs = 1;
  s.num_classes = 8;
  s.vocab_size = 7421;
  s.dp_world = 4;
  s.compression = "topk";
  return s;
}

TEST(TrainState, RoundTripsEveryField) {
  const TrainState s = sample();
  const TrainState back = TrainState::fromJson(nlohmann::json::parse(s.toJson().dump()), "state.json");
  EXPECT_EQ(back.toJson(), s.toJson());
  EXPECT_EQ(back.step, 120);
  EXPECT_EQ(back.batch_in_epoch, 17);
  EXPECT_EQ(back.graphs_in_epoch, 544);
  EXPECT_DOUBLE_EQ(back.best_val_accuracy, 0.9612);
  EXPECT_EQ(back.compression, "topk");
  // A fresh state (best loss 1e300, best epoch -1) survives JSON too.
  const TrainState fresh = TrainState::fromJson(nlohmann::json::parse(TrainState{}.toJson().dump()), "x");
  EXPECT_EQ(fresh.best_epoch, -1);
  EXPECT_DOUBLE_EQ(fresh.best_val_loss, 1e300);
}

TEST(TrainState, KeysOfStateJson) {
  std::set<std::string> keys;
  const nlohmann::json j = sample().toJson();
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"step", "epoch", "batch_in_epoch", "graphs_in_epoch", "best_val_accuracy",
                                         "best_val_loss",
                                         "test_accuracy_at_best", "best_epoch", "bad_epochs", "elapsed_seconds",
                                         "num_classes", "vocab_size", "dp_world", "compression"}));
}

TEST(TrainState, MissingOrMistypedKeyNamesFileAndKey) {
  nlohmann::json j = sample().toJson();
  j.erase("bad_epochs");
  try {
    TrainState::fromJson(j, "ck/state.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), "ck/state.json: no 'bad_epochs'");
  }
  j = sample().toJson();
  j["step"] = "many";
  try {
    TrainState::fromJson(j, "ck/state.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("ck/state.json: 'step'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(TrainState::fromJson(nlohmann::json::array(), "x"), CheckpointError);
}

}  // namespace
}  // namespace autoglm::trainer
