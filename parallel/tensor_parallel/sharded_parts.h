#pragma once
// Tensor-parallel versions of the model's parts, each built from the full part
// (every rank constructs the whole model at the same seed, then keeps its
// slice), so that a sharded model starts exactly where one process starts.
//
// VocabParallelEmbedding ("embed"): rows [lo, hi) of the table per rank; ids
//   outside give zeros and one all-reduce completes the lookup (Megatron-LM's
//   VocabParallelEmbedding, without its padding: the split may be uneven). A
//   row's gradient and Adam state live only on its owner.
//
// HeadParallelGAT ("blockK"): each rank owns a subset of the heads (their
//   projection rows, attention vectors, bias and residual-projection rows, and
//   of a relation-aware block's att_edge [types, heads] the columns of its heads). The
//   softmax over a node's edges involves one head, so attention needs no
//   communication; the block ends with one all-gather of the head outputs.
//   Why all-gather rather than a row-parallel next projection ending in an
//   all-reduce: for blocks of equal width D the all-gather moves (T-1)/T x N x D
//   per rank where an all-reduce moves twice that, and the next block, the
//   residual and the readout all want the full, replicated node states. (The
//   reduce-scatter variant moves as little, but leaves the states sharded,
//   which the readout then has to gather anyway.)
//
// ParallelHead ("head"): the hidden layer column-parallel (each rank a slice of
//   the hidden units), the output layer row-parallel over the same slice and
//   ending in an all-reduce; the output bias is added once, after it. A linear
//   head (no hidden layer) stays replicated.
//
// Dropout: masks of replicated activations (the embedding) agree across the
// group, because every rank's generator draws the same seeds in the same
// order; masks of sharded activations mix that seed with the rank
// (shardedSeed), so they are independent.

#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "core/model/classifier_head.h"
#include "core/model/gat_layer.h"
#include "core/model/model_part.h"
#include "core/model/token_embedding.h"

namespace autoglm::parallel::tensor_parallel {

class VocabParallelEmbedding final : public core::model::ModelPart {
 public:
  VocabParallelEmbedding(const core::model::TokenEmbedding& full, std::shared_ptr<comm::Communicator> tp);
  at::Tensor forward(const at::Tensor& x, const core::graph::GraphBatch& g) override;
  std::optional<core::model::ParamShard> shardOf(const std::string& param) const override;
  // The gradient holds only this shard's rows that the batch looked up.
  std::vector<std::string> useRowSparseGradients() override;

 private:
  std::shared_ptr<comm::Communicator> tp_;
  at::Tensor weight_;  // rows [lo_, lo_ + rows)
  int64_t lo_, vocab_;
  double dropout_;
  bool sparse_ = false;
};

class HeadParallelGAT final : public core::model::ModelPart {
 public:
  HeadParallelGAT(const core::model::GATLayer& full, std::shared_ptr<comm::Communicator> tp);
  at::Tensor forward(const at::Tensor& h, const core::graph::GraphBatch& g) override;
  std::optional<core::model::ParamShard> shardOf(const std::string& param) const override;

 private:
  std::shared_ptr<comm::Communicator> tp_;
  core::model::GATLayerOptions opts_;
  int64_t head0_, heads_;            // this rank's heads [head0_, head0_ + heads_)
  std::vector<int64_t> widths_;      // output columns of every rank
  at::Tensor proj_, res_proj_, att_src_, att_dst_, bias_;
  at::Tensor att_edge_;              // [types, heads_], only for a relation-aware block
};

class ParallelHead final : public core::model::ModelPart {
 public:
  ParallelHead(const core::model::ClassifierHead& full, std::shared_ptr<comm::Communicator> tp);
  at::Tensor forward(const at::Tensor& x, const core::graph::GraphBatch& g) override;
  std::optional<core::model::ParamShard> shardOf(const std::string& param) const override;

 private:
  std::shared_ptr<comm::Communicator> tp_;
  at::Tensor hidden_w_, hidden_b_, out_w_, out_b_;  // hidden rows / out columns [lo_, lo_ + n)
  int64_t lo_, hidden_;
  double dropout_;
};

}  // namespace autoglm::parallel::tensor_parallel
