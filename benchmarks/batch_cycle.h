#pragma once
// Training steps for benchmarks: the trainer's first epoch of batches, round
// and round, outside the epoch loop.

#include <cstdint>
#include <vector>

#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::bench {

class BatchCycle {
 public:
  explicit BatchCycle(trainer::ClassifierTrainer& t) : trainer_(t), batches_(t.epochBatches(0, &global_)) {}
  // One step of the next batch; returns the graphs in the global batch.
  int64_t step() {
    const size_t b = next_++ % batches_.size();
    trainer_.trainStep({batches_[b]}, global_[b]);
    return global_[b];
  }

 private:
  trainer::ClassifierTrainer& trainer_;
  std::vector<int64_t> global_;
  std::vector<std::vector<int64_t>> batches_;
  size_t next_ = 0;
};

}  // namespace autoglm::bench
