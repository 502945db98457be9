#pragma once
// Contrastive self-supervised pre-training of the graph encoder (SimCLR's
// recipe on graphs, as GraphCL): two random views of each graph
// (core/graph/augment.h) are encoded, projected by a small head, and pulled
// together against the other graphs of the batch by the NT-Xent loss.
//
// The encoder is the classifier without its head: "embed" -> "block0".. ->
// "readout" (exit heads, which pass states on unchanged, are skipped), so the
// parameters pre-training moves carry the classifier's names.

#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "core/graph/graph_batch.h"
#include "core/model/graph_classifier.h"

namespace autoglm::core::model {

// NT-Xent (SimCLR): rows of z1 [B, D] and z2 [B, D] are the two views of B
// graphs. Rows are L2-normalised; the 2B x 2B cosine similarities divided by
// `temperature` are the logits of a softmax over the other 2B - 1 rows (an
// anchor never scores itself), whose target is the other view of the same
// graph. Returns the mean cross-entropy over the 2B anchors (a scalar).
// Throws Error when the shapes differ or B < 2 (no negatives).
at::Tensor infoNceLoss(const at::Tensor& z1, const at::Tensor& z2, double temperature);

// The projection head used only while pre-training: Linear(in, dim), ReLU,
// Linear(dim, dim). Not part of the classifier, not saved in checkpoints.
class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in_dim, int64_t dim);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear hidden_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(ProjectionHead);

// Graph vectors [B, R] of a batch from the encoder parts of `model` (every
// part before "head", exits skipped), with dropout of probability
// `feature_dropout` (0 = none) on the token embeddings, whether or not the
// model is training; the parts' own dropout follows the model's mode as usual
// (the pre-trainer runs them in eval mode, so that pretrain.* alone sets the
// views' noise). The model must hold "embed" and "readout".
at::Tensor encodeGraphs(GraphClassifierImpl& model, const graph::GraphBatch& g, double feature_dropout);

// Width R of encodeGraphs' output (the readout's).
int64_t encoderDim(const GraphClassifierImpl& model);

}  // namespace autoglm::core::model
