#pragma once
// Tensor parallelism's collectives in one step, replayed block by block as
// parallel/tensor_parallel runs them (sharded_parts.h, tp_ops.h), for a group
// of `tp` ranks holding one model replica:
//
//   forward   embedding (VocabParallelEmbedding): all-reduce of N x D floats
//             each GAT block (HeadParallelGAT): all-gather of its heads'
//               outputs, N x W / tp floats from every rank
//             head (ParallelHead): all-reduce of the B x C logits
//   backward  each block's input (copyToTensorParallel): all-reduce of N x D_in
//             floats (D for the first block, W after)
//             the head's input: all-reduce of B x R floats
//
// N nodes in a step's batch, D the embedding width, W = heads x head_dim, R the
// readout width, B graphs, C classes. The collectives block the step (they sit
// between layers), so they add to it. Compute is taken to divide evenly over
// the group (forward, backward and optimizer / tp), an upper bound on what tp
// buys: the embedding lookup, readout and collation stay replicated.

#include <cstdint>
#include <vector>

#include "comm/cost/collective_cost.h"
#include "core/yaml_config.h"

namespace autoglm::trainer::simulate {

// What sizes the collectives: the model's widths and a step's batch.
struct TpShape {
  double nodes_per_step = 0.0;  // N: nodes in one rank's (replica's) step batch
  int64_t embed_dim = 0;        // D
  int64_t block_width = 0;      // W = heads x head_dim
  int64_t layers = 0;
  int64_t readout_width = 0;    // R
  int64_t classes = 0;          // C

  bool known() const { return nodes_per_step > 0 && embed_dim > 0 && block_width > 0 && layers > 0; }
  template <class V>
  void visit(V& v) {
    v.field("nodes_per_step", nodes_per_step, core::check::atLeast(0.0));
    v.field("embed_dim", embed_dim, core::check::atLeast<int64_t>(0));
    v.field("block_width", block_width, core::check::atLeast<int64_t>(0));
    v.field("layers", layers, core::check::atLeast<int64_t>(0));
    v.field("readout_width", readout_width, core::check::atLeast<int64_t>(0));
    v.field("classes", classes, core::check::atLeast<int64_t>(0));
  }
};

struct TpStepCost {
  double seconds = 0.0;    // the collectives, one after another
  double bytes = 0.0;      // this rank hands to the communicator per step
  int64_t collectives = 0;
};

// The tp collectives of one step of `samples` graphs over `group`; zero for a
// group of one. Throws ConfigError when tp > 1 and the shape is not known.
TpStepCost tpStepCost(const TpShape& shape, int64_t samples, const comm::cost::Topology& group);

}  // namespace autoglm::trainer::simulate
