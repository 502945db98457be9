#pragma once
// Where a run stands, as a checkpoint's state.json holds it. Every key is named
// once, in visit(), which both toJson() and fromJson() walk; modes are enums
// here and written by their config names (core::enumName), in this one place.
//
// The rest of what a resumed run needs lives elsewhere: the model and optimizer
// (Adam moments) in the shard files (checkpoint/sharded_checkpoint.h), the
// learning-rate schedule's position (a function of `step`) in the config, each
// rank's RNG and compressor residuals in its rank state (checkpoint/rank_state.h).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "parallel/data_parallel/compression/compression_config.h"

namespace autoglm::trainer {

struct TrainState {
  // Progress.
  int64_t step = 0;            // optimizer steps done
  int64_t epoch = 0;           // 0-based epoch in progress
  int64_t batch_in_epoch = 0;  // batches of that epoch already done
  int64_t items_in_epoch = 0;  // items (graphs) of those batches, all ranks together
                               // (a cursor into the epoch's order at any dp)
  double elapsed_seconds = 0;  // training time, summed over resumes
  // Model selection and early stopping (loop/selection.h).
  double best_score = -1e300;       // selection score of the best epoch so far
  double best_loss = 1e300;         // its tie-breaker (lower wins)
  double test_metric_at_best = 0.0; // the test metric of that epoch, where scored
  int64_t best_epoch = -1;          // 1-based; -1 before the first epoch ends
  int64_t epochs_since_best = 0;
  // What the checkpoint was written by, checked on resume.
  int64_t num_classes = 0;
  int64_t vocab_size = 0;
  int64_t dp_world = 1;             // data-parallel ranks
  parallel::data_parallel::compression::CompressionType compression =
      parallel::data_parallel::compression::CompressionType::kNone;

  // v(key, field, key in checkpoints written before the names changed or null).
  template <class V>
  void visit(V& v) {
    v("step", step, nullptr);
    v("epoch", epoch, nullptr);
    v("batch_in_epoch", batch_in_epoch, nullptr);
    v("items_in_epoch", items_in_epoch, "graphs_in_epoch");
    v("best_score", best_score, "best_val_accuracy");
    v("best_loss", best_loss, "best_val_loss");
    v("test_metric_at_best", test_metric_at_best, "test_accuracy_at_best");
    v("best_epoch", best_epoch, nullptr);
    v("epochs_since_best", epochs_since_best, "bad_epochs");
    v("elapsed_seconds", elapsed_seconds, nullptr);
    v("num_classes", num_classes, nullptr);
    v("vocab_size", vocab_size, nullptr);
    v("dp_world", dp_world, nullptr);
    v("compression", compression, nullptr);
  }

  nlohmann::json toJson() const;
  // Throws CheckpointError naming `where` (the state.json path) and the key
  // that is missing or of the wrong type.
  static TrainState fromJson(const nlohmann::json& j, const std::string& where);
};

}  // namespace autoglm::trainer
