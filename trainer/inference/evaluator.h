#pragma once
// Evaluation and prediction with a trained classifier, with or without a
// Trainer: `autoglm eval` and `predict` use it on one process, the Trainer at
// the end of each epoch on its data-parallel group.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/graph_store.h"
#include "core/model/graph_classifier.h"
#include "parallel/pipeline/stage_link.h"

namespace autoglm::trainer {

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy
  double accuracy = 0.0;
  int64_t count = 0;      // graphs evaluated (on all ranks)
  // Early exit (setExitThreshold): GAT blocks computed per graph, mean, and the
  // share of node-block work done against running every block on every node.
  double mean_blocks = 0.0;
  double node_block_fraction = 1.0;
};

// Class probabilities of a batch and the blocks each graph ran through.
struct Classified {
  at::Tensor probabilities;  // [B, C]
  at::Tensor exit_block;     // [B] int64, 1..layers
};

class Evaluator {
 public:
  // batch_graphs: graphs per forward pass. group: the ranks that share the work
  // (each evaluates every size()-th graph; the sums are all-reduced); null or a
  // group of one evaluates everything here.
  // link (a pipeline stage): batches flow through the stages, the last one
  // scores them and the result is broadcast to every stage.
  Evaluator(core::model::GraphClassifier model, int64_t batch_graphs, comm::Communicator* group = nullptr,
            parallel::pipeline::StageLink* link = nullptr);

  // Loss and accuracy over the graphs `indices` of `store`. Collective over the group.
  EvalResult evaluate(const core::graph::GraphStore& store, const std::vector<int64_t>& indices);
  // Class probabilities and exit blocks of one batch.
  Classified classify(const std::vector<core::graph::GraphView>& graphs);

  // Early exit for evaluate() and classify() (infer.exit_threshold; 1: every
  // block). Only on one stage holding the whole model.
  void setExitThreshold(double threshold) { exit_threshold_ = threshold; }

 private:
  core::model::GraphClassifier model_;
  int64_t batch_graphs_;
  comm::Communicator* group_;
  parallel::pipeline::StageLink* link_;
  double exit_threshold_ = 1.0;
};

}  // namespace autoglm::trainer
