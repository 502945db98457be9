// Compares the model parameters of the newest checkpoints of two runs:
//   checkpoint_diff CHECKPOINTS_A CHECKPOINTS_B TOLERANCE
// prints the largest |difference| and exits 1 when it is above TOLERANCE (or
// the two checkpoints are of different steps).

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <iostream>

#include "core/model/graph_classifier.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/checkpoint/sharded_checkpoint.h"
#include "trainer/config/experiment_config.h"

namespace {

autoglm::core::model::GraphClassifier load(const autoglm::trainer::CheckpointInfo& ck) {
  const auto cfg = autoglm::trainer::ExperimentConfig::fromYaml(YAML::Load(ck.config_yaml), ck.dir);
  autoglm::core::model::GraphClassifier m(cfg.model, static_cast<int64_t>(ck.vocab_tokens.size()),
                                          static_cast<int64_t>(ck.label_names.size()));
  autoglm::trainer::loadShardedModel(ck, *m, nullptr);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: checkpoint_diff CHECKPOINTS_A CHECKPOINTS_B TOLERANCE" << std::endl;
    return 2;
  }
  try {
    const auto a = autoglm::trainer::openCheckpoint(argv[1], false);
    const auto b = autoglm::trainer::openCheckpoint(argv[2], false);
    const int64_t sa = a.state.at("step").get<int64_t>(), sb = b.state.at("step").get<int64_t>();
    auto pa = load(a)->parameters(), pb = load(b)->parameters();
    double diff = 0.0;
    for (size_t i = 0; i < pa.size(); ++i) diff = std::max(diff, (pa[i] - pb[i]).abs().max().item<double>());
    std::cout << "checkpoint_diff: " << a.dir << " (step " << sa << ") vs " << b.dir << " (step " << sb
              << "): max |parameter difference| " << diff << std::endl;
    return sa == sb && diff <= std::stod(argv[3]) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_diff: " << e.what() << std::endl;
    return 2;
  }
}
