#pragma once
// Text-graph classifier: an ordered list of named parts,
//   "embed" -> "block0" ... "block{layers-1}" -> "readout" -> "head",
// (token embedding, GAT blocks, graph readout, MLP head; model_part.h says what
// each maps to what). forward() passes activations through the parts present,
// so a pipeline stage is this class with the other parts removed, and a
// tensor-parallel plan swaps a part for a sharded one by name.
//
// With model.early_exit an exit part follows every block but the last:
//   "embed" -> "block0" -> "exit0" -> "block1" -> ... -> "readout" -> "head";
// an exit passes states on unchanged and classifies them on the side
// (exit_head.h).
//
// With model.learned_edges = k > 0, the batch grows after block
// learned_edges_after - 1: every node gains k incoming edges (type kLearnedEdge)
// from its most similar nodes of the same graph by that block's output states h
// (core/graph/learned_edges.h), and every later block (exits, readout and head
// too) sees the grown batch. The later blocks' attention logit of a learned
// edge e gets the extra bias learned_edge_scale * cos(h[src e], h[dst e]) on
// every head (GATLayer::setExtraEdgeBias), so the selection is trained end to
// end through the states; other edges get none. Needs every part (no pipeline
// stage, no tensor-parallel blocks).
//
// Parameter names are "<part>.<name>" ("block0.proj.weight"), the same on
// every stage that holds the part; learned edges add the classifier's own
// "learned_edge_scale" [1] (initially 1), after every part's.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/model_config.h"
#include "core/model/model_part.h"

namespace autoglm::core::model {

class GraphClassifierImpl : public torch::nn::Module {
 public:
  GraphClassifierImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes);

  // How many parts a classifier of `cfg` has (embed, the blocks with their
  // exits, readout, head), without building it (config validation).
  static size_t partCount(const ModelConfig& cfg);
  // All part names in forward order, present or not.
  const std::vector<std::string>& partNames() const { return names_; }
  // What part `index` of partNames() outputs (also when it was removed here:
  // the width is the whole model's, fixed at construction).
  const PartOutput& partOutput(size_t index) const { return outputs_.at(index); }
  // The part, or null when it was removed; throws Error for an unknown name.
  std::shared_ptr<ModelPart> part(const std::string& name) const;
  template <typename T>
  std::shared_ptr<T> partAs(const std::string& name) const {
    return std::dynamic_pointer_cast<T>(part(name));
  }
  // Swaps the part `name` (present) for another with the same contract.
  void replacePart(const std::string& name, std::shared_ptr<ModelPart> part);
  // Switches every present part's lookup tables to row-sparse gradients
  // (ModelPart::useRowSparseGradients) and returns their parameter names
  // ("embed.weight"); call it after any tensor-parallel plan.
  std::vector<std::string> useRowSparseGradients();
  // Removes every part outside positions [first, last] of partNames().
  void keepParts(size_t first, size_t last);

  // Logits [B, C] of a batch (every part present).
  at::Tensor forward(const graph::GraphBatch& g);
  // Runs the parts present on `x` (the previous stage's activations; ignored
  // when "embed" is present) and returns the last one's output.
  at::Tensor forward(const at::Tensor& x, const graph::GraphBatch& g);

  // Logits [B, C] of every exit in order, the final head's last (one entry
  // without early exit). Every part present.
  std::vector<at::Tensor> forwardExits(const graph::GraphBatch& g);

  struct EarlyExit {
    at::Tensor logits;      // [B, C], from the exit each graph left at
    at::Tensor exit_block;  // [B] int64, blocks computed for each graph (1..layers)
  };
  // Inference with early exit: a graph leaves at the first exit whose largest
  // softmax probability reaches `threshold`, and the graphs that left are cut
  // from the batch before the next block (core::graph::subBatch). A threshold
  // of 1 or more, or a model without exits, computes every block.
  EarlyExit forwardEarlyExit(const graph::GraphBatch& g, double threshold);

  const ModelConfig& config() const { return cfg_; }

 private:
  // What flows along the parts besides the states: the batch, and once the
  // edges are learned, the states they were chosen by and the later blocks'
  // extra logit bias [E,H].
  struct Flow {
    graph::GraphBatch g;
    at::Tensor anchor;
    at::Tensor bias;
  };
  size_t indexOf(const std::string& name) const;
  // Runs part i (present) on h, and grows f after the learned-edges block.
  at::Tensor step(size_t i, const at::Tensor& h, Flow& f);
  // f.bias for the learned edges `ids` of f.g, from f.anchor.
  void learnedBias(Flow& f, const at::Tensor& ids) const;

  ModelConfig cfg_;
  size_t learned_after_ = static_cast<size_t>(-1);  // part index of the learned-edges block, or -1 (off)
  at::Tensor learned_edge_scale_;                   // [1], only with learned edges
  std::vector<std::string> names_;
  std::vector<PartOutput> outputs_;                // by part index
  std::vector<std::shared_ptr<ModelPart>> parts_;  // null: removed
};
TORCH_MODULE(GraphClassifier);

}  // namespace autoglm::core::model
