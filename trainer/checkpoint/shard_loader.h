#pragma once
// Loading the model part of a checkpoint (written by sharded_checkpoint.h) at
// any layout, reading only what this process holds: for every parameter
// present (a stage of any layout, a tensor-parallel slice, or the whole model
// on one process) the slices of the shard files that overlap the slice this
// process holds are copied into it, the same for its optimizer state (Adam's moments, Adagrad's sum). No full
// tensor of a sharded parameter is assembled, and the shard files are read one
// at a time (each verified against the manifest first), so a resuming rank
// holds little more than it holds when training.

#include <string>

#include "comm/communicator.h"
#include "core/model/graph_classifier.h"
#include "trainer/checkpoint/checkpoint.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

// Sets every parameter of `model` (and, with an optimizer, its state) from
// the checkpoint's layout.json and shard files. Throws CheckpointError naming
// the file and tensor when a tensor is missing, its slices do not cover what
// this process holds, or shapes differ.
void loadModelSlices(const CheckpointInfo& ckpt, const nlohmann::json& tensors,
                     core::model::GraphClassifierImpl& model, torch::optim::Optimizer* optimizer);

// Rank `root`'s parameters and optimizer state on every rank of `comm` (ranks that
// hold the same parameters: a data-parallel group). Collective.
void broadcastModelState(comm::Communicator& comm, core::model::GraphClassifierImpl& model,
                         torch::optim::Optimizer* optimizer, int root);

}  // namespace autoglm::trainer
