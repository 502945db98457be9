#pragma once
// Settings of contrastive pre-training (YAML section `pretrain:`;
// trainer/tasks/pretrain/pretrainer.h says what each does). Header-only: it needs
// core/yaml_config.h and nothing else.

#include <array>
#include <cstdint>

#include "core/yaml_config.h"

namespace autoglm::trainer {

// pretrain.splits: which documents pre-training reads (never their labels).
//   all   - every split, the test text included (transductive, as TextGCN
//           uses the test documents' text);
//   train - the training split only (what is left after data.val_fraction).
enum class PretrainSplits { kAll, kTrain };
constexpr std::array<core::EnumName<PretrainSplits>, 2> enumNames(PretrainSplits) {
  return {{{PretrainSplits::kAll, "all"}, {PretrainSplits::kTrain, "train"}}};
}

struct PretrainConfig {
  int64_t epochs = 0;            // 0 = off; > 0: `autoglm train` pre-trains first
  double lr = 1e-3;              // Adam
  int64_t batch_graphs = 64;     // graphs per step (2 views each)
  double temperature = 0.2;      // InfoNCE (NT-Xent) temperature
  double edge_drop = 0.2;        // probability of dropping an edge pair (self loops stay)
  double node_mask = 0.15;       // probability of a word node's token becoming <unk>
  double feature_dropout = 0.1;  // dropout on the token embeddings, per view
  int64_t proj_dim = 128;        // width of the 2-layer projection head (not saved)
  PretrainSplits splits = PretrainSplits::kAll;

  template <class V>
  void visit(V& v) {
    v.field("epochs", epochs, core::check::atLeast<int64_t>(0));
    v.field("lr", lr, core::check::greaterThan(0.0));
    v.field("batch_graphs", batch_graphs, core::check::atLeast<int64_t>(2));
    v.field("temperature", temperature, core::check::greaterThan(0.0));
    v.field("edge_drop", edge_drop, core::check::fraction());
    v.field("node_mask", node_mask, core::check::fraction());
    v.field("feature_dropout", feature_dropout, core::check::openFraction());
    v.field("proj_dim", proj_dim, core::check::atLeast<int64_t>(1));
    v.field("splits", splits);
  }
};

}  // namespace autoglm::trainer
