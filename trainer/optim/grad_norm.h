#pragma once
// The gradient norm of a model spread over tensor- and pipeline-parallel ranks:
// each parameter counted once (sharded ones on every tp rank, replicated ones
// on tp rank 0 only), summed over the tp and pp groups, so that every rank
// clips by the norm one process would see.

#include "comm/communicator.h"
#include "core/model/graph_classifier.h"

namespace autoglm::trainer {

// The stored values of a gradient: itself, or a row-sparse gradient's rows
// (coalesced first, so that a repeated row counts once).
at::Tensor gradValues(const at::Tensor& g);

// L2 norm of all gradients over the layout. mark_nonfinite: this rank knows of
// a non-finite gradient (the reducer zeroed it): the norm is NaN on every rank
// of the layout, so all of them skip or stop together.
double layoutGradNorm(core::model::GraphClassifierImpl& model, comm::Communicator* tp, comm::Communicator* pp,
                      bool mark_nonfinite);

// Scales every gradient by max_norm / (norm + 1e-6) when that is below 1 (as
// torch::nn::utils::clip_grad_norm_ does).
void clipToNorm(core::model::GraphClassifierImpl& model, double norm, double max_norm);

}  // namespace autoglm::trainer
