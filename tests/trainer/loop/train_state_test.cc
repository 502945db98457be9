#include "trainer/loop/train_state.h"

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
  s.items_in_epoch = 544;
  s.elapsed_seconds = 12.5;
  s.best_score = 0.9612;
  s.best_loss = 0.25;
  s.test_metric_at_best = 0.9701;
  s.best_epoch = 2;
  s.epochs_since_best = 1;
  s.num_classes = 8;
  s.vocab_size = 7421;
  s.dp_world = 4;
  s.compression = parallel::data_parallel::compression::CompressionType::kTopk;
  return s;
}

TEST(TrainState, RoundTripsEveryField) {
  const TrainState s = sample();
  const TrainState back = TrainState::fromJson(nlohmann::json::parse(s.toJson().dump()), "state.json");
  EXPECT_EQ(back.toJson(), s.toJson());
  EXPECT_EQ(back.step, 120);
  EXPECT_EQ(back.batch_in_epoch, 17);
  EXPECT_EQ(back.items_in_epoch, 544);
  EXPECT_DOUBLE_EQ(back.best_score, 0.9612);
  EXPECT_EQ(back.compression, parallel::data_parallel::compression::CompressionType::kTopk);
  EXPECT_EQ(s.toJson()["compression"], "topk");  // the config's name, not a number
  // A fresh state (best loss 1e300, best epoch -1) survives JSON too.
  const TrainState fresh = TrainState::fromJson(nlohmann::json::parse(TrainState{}.toJson().dump()), "x");
  EXPECT_EQ(fresh.best_epoch, -1);
  EXPECT_DOUBLE_EQ(fresh.best_loss, 1e300);
  EXPECT_DOUBLE_EQ(fresh.best_score, -1e300);
}

TEST(TrainState, KeysOfStateJson) {
  std::set<std::string> keys;
  const nlohmann::json j = sample().toJson();
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"step", "epoch", "batch_in_epoch", "items_in_epoch", "best_score",
                                         "best_loss", "test_metric_at_best", "best_epoch", "epochs_since_best",
                                         "elapsed_seconds", "num_classes", "vocab_size", "dp_world", "compression"}));
}

// state.json written before the keys were renamed (graphs_in_epoch,
// best_val_accuracy, ...) still resumes.
TEST(TrainState, ReadsTheKeysOfEarlierCheckpoints) {
  nlohmann::json j = sample().toJson();
  const std::pair<const char*, const char*> renamed[] = {{"items_in_epoch", "graphs_in_epoch"},
                                                         {"best_score", "best_val_accuracy"},
                                                         {"best_loss", "best_val_loss"},
                                                         {"test_metric_at_best", "test_accuracy_at_best"},
                                                         {"epochs_since_best", "bad_epochs"}};
  for (const auto& [now, was] : renamed) {
    j[was] = j[now];
    j.erase(now);
  }
  const TrainState back = TrainState::fromJson(j, "old/state.json");
  EXPECT_EQ(back.toJson(), sample().toJson());
}

TEST(TrainState, UnknownCompressionNamesTheKey) {
  nlohmann::json j = sample().toJson();
  j["compression"] = "zip";
  try {
    TrainState::fromJson(j, "ck/state.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), "ck/state.json: 'compression': unknown value 'zip'");
  }
}

TEST(TrainState, MissingOrMistypedKeyNamesFileAndKey) {
  nlohmann::json j = sample().toJson();
  j.erase("epochs_since_best");
  try {
    TrainState::fromJson(j, "ck/state.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), "ck/state.json: no 'epochs_since_best'");
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
