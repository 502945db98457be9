#pragma once
// The model's settings (YAML section `model:`) and its modes.

#include <array>
#include <cstdint>

#include "core/yaml_config.h"

namespace autoglm::core::model {

// How the readout pools node states into a graph vector (readout.h).
enum class ReadoutKind { kMeanMax, kMean, kMax, kAttention, kGated };
constexpr std::array<EnumName<ReadoutKind>, 5> enumNames(ReadoutKind) {
  return {{{ReadoutKind::kMeanMax, "mean_max"},
           {ReadoutKind::kMean, "mean"},
           {ReadoutKind::kMax, "max"},
           {ReadoutKind::kAttention, "attention"},
           {ReadoutKind::kGated, "gated"}}};
}

// How a GAT block combines its attention output m with its input h
// (gat_layer.h): residual, ELU(m + h) (or ELU(m) with model.residual: false);
// or gated, a GRU cell with m as input and h as state, as TextING's gated
// graph updates.
enum class BlockUpdate { kResidual, kGated };
constexpr std::array<EnumName<BlockUpdate>, 2> enumNames(BlockUpdate) {
  return {{{BlockUpdate::kResidual, "residual"}, {BlockUpdate::kGated, "gated"}}};
}

// GAT attention: the fused CPU kernels or the ATen reference (gat_attention.h).
enum class AttentionImpl { kFused, kReference };
constexpr std::array<EnumName<AttentionImpl>, 2> enumNames(AttentionImpl) {
  return {{{AttentionImpl::kFused, "fused"}, {AttentionImpl::kReference, "reference"}}};
}

// Initial embedding table: random normal, word vectors from a randomized SVD
// of the training co-occurrence PPMI matrix (ppmi_embedding.h), or pretrained
// word vectors read from model.vectors (pretrained_embedding.h).
enum class EmbedInit { kRandom, kPpmiSvd, kPretrained };
constexpr std::array<EnumName<EmbedInit>, 3> enumNames(EmbedInit) {
  return {{{EmbedInit::kRandom, "random"}, {EmbedInit::kPpmiSvd, "ppmi_svd"}, {EmbedInit::kPretrained, "pretrained"}}};
}

// Where a word without a pretrained vector starts (pretrained_embedding.h):
// the mean of related words' vectors (WordNet base form and synonyms, then
// words sharing most character trigrams), else small random; or random only.
enum class OovInit { kNeighbours, kRandom };
constexpr std::array<EnumName<OovInit>, 2> enumNames(OovInit) {
  return {{{OovInit::kNeighbours, "neighbours"}, {OovInit::kRandom, "random"}}};
}

// What is trained: the graph classifier over one graph per document (gat), or
// a two-layer GCN over one graph of the whole corpus, transductively
// (corpus_gcn: trainer/tasks/corpus_gcn/corpus_gcn_task.h; the corpus section configures it).
enum class ModelKind { kGat, kCorpusGcn, kKgCompletion };
constexpr std::array<EnumName<ModelKind>, 3> enumNames(ModelKind) {
  return {{{ModelKind::kGat, "gat"}, {ModelKind::kCorpusGcn, "corpus_gcn"}, {ModelKind::kKgCompletion, "kg_completion"}}};
}

// How exit heads learn (model.early_exit): joint, every exit's loss weighted
// by depth reaches the blocks below it; detached, exits learn from the blocks'
// states without changing them (the blocks learn from the last head only);
// distill, detached and each exit's loss is half the label loss, half the
// cross-entropy to the last head's (detached) probabilities.
enum class ExitTraining { kJoint, kDetached, kDistill };
constexpr std::array<EnumName<ExitTraining>, 3> enumNames(ExitTraining) {
  return {{{ExitTraining::kJoint, "joint"}, {ExitTraining::kDetached, "detached"}, {ExitTraining::kDistill, "distill"}}};
}

struct ModelConfig {
  ModelKind kind = ModelKind::kGat;
  int64_t embed_dim = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t head_dim = 32;
  double dropout = 0.5;  // on embeddings, between blocks and in the head
  double attn_dropout = 0.1;
  double negative_slope = 0.2;
  bool residual = true;
  BlockUpdate update = BlockUpdate::kResidual;
  ReadoutKind readout = ReadoutKind::kMeanMax;
  int64_t head_hidden = 128;  // 0 = linear head
  AttentionImpl attention = AttentionImpl::kFused;
  EmbedInit embed_init = EmbedInit::kRandom;
  // Pretrained vectors (embed_init: pretrained): a GloVe/word2vec text file or
  // the binary format (core/text/word_vectors.h). vectors_dim is the file's
  // width, filled in when the config is validated and saved with it, so a
  // checkpoint loads without the file. When it differs from embed_dim the
  // table keeps the vectors' width and a learned projection ("embed.proj")
  // maps it to embed_dim. vectors_lr scales the learning rate of the rows that
  // came from the file (0 = frozen): below 1, the table is the file's rows
  // ("embed.base", not trained) plus vectors_lr x a trained offset starting at
  // zero, so weight decay pulls a row towards its pretrained vector.
  std::string vectors;
  int64_t vectors_dim = 0;
  double vectors_lr = 1.0;
  double vectors_scale = 1.0;  // the file's values are multiplied by this
  OovInit oov_init = OovInit::kNeighbours;
  // An exit head after every block but the last ("exitK", exit_head.h),
  // trained jointly; inference leaves early by infer.exit_threshold.
  bool early_exit = false;
  ExitTraining exit_training = ExitTraining::kJoint;
  // Relation-aware attention: every block learns a logit offset per edge type
  // and head ("att_edge", gat_layer.h), over core::graph::kNumEdgeTypes types.
  bool relation_aware = false;
  // Learned edges (core/graph/learned_edges.h): > 0 adds, after block
  // learned_edges_after - 1, an edge into every node from its k most similar
  // nodes of the same document (cosine of that block's output states), used by
  // every later block with a logit bias scale * cos (the classifier's learned
  // parameter "learned_edge_scale"). 0 = off. learned_edges_after must be
  // below layers; tp and pp must be 1.
  int64_t learned_edges = 0;
  int64_t learned_edges_after = 1;

  template <class V>
  void visit(V& v) {
    v.field("kind", kind);
    v.field("embed_dim", embed_dim, check::atLeast<int64_t>(1));
    v.field("layers", layers, check::atLeast<int64_t>(1));
    v.field("heads", heads, check::atLeast<int64_t>(1));
    v.field("head_dim", head_dim, check::atLeast<int64_t>(1));
    v.field("dropout", dropout, check::openFraction());
    v.field("attn_dropout", attn_dropout, check::openFraction());
    v.field("negative_slope", negative_slope, check::atLeast(0.0));
    v.field("residual", residual);
    v.field("update", update);
    v.field("readout", readout);
    v.field("head_hidden", head_hidden, check::atLeast<int64_t>(0));
    v.field("attention", attention);
    v.field("embed_init", embed_init);
    v.field("vectors", vectors);
    v.field("vectors_dim", vectors_dim, check::atLeast<int64_t>(0));
    v.field("vectors_lr", vectors_lr, check::atLeast(0.0));
    v.field("vectors_scale", vectors_scale, check::atLeast(0.0));
    v.field("oov_init", oov_init);
    v.field("early_exit", early_exit);
    v.field("exit_training", exit_training);
    v.field("relation_aware", relation_aware);
    v.field("learned_edges", learned_edges, check::atLeast<int64_t>(0));
    v.field("learned_edges_after", learned_edges_after, check::atLeast<int64_t>(1));
  }
};

}  // namespace autoglm::core::model
