#pragma once
// The kg section of an experiment (model.kind: kg_completion): the graph, the
// scoring function and how it is trained and evaluated. train.* gives the
// optimizer (adagrad or adam), lr, epochs, patience and max_steps; run.* the
// seed and run.memory_limit.

#include <array>
#include <cstdint>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::core::kg {

// kg.score: TransE with the L1 or L2 distance, RotatE, ComplEx (kg_score.h).
enum class KgScore { kTransEL1, kTransEL2, kRotatE, kComplEx };
constexpr std::array<EnumName<KgScore>, 4> enumNames(KgScore) {
  return {{{KgScore::kTransEL1, "transe_l1"}, {KgScore::kTransEL2, "transe_l2"}, {KgScore::kRotatE, "rotate"},
           {KgScore::kComplEx, "complex"}}};
}

// kg.training: every query against every entity with a softmax cross-entropy
// (one_vs_all, as ComplEx-N3), or against kg.negatives entities drawn per
// batch and shared by its triples with a logistic loss (negative, as RotatE
// and DGL-KE).
enum class KgTraining { kOneVsAll, kNegative };
constexpr std::array<EnumName<KgTraining>, 2> enumNames(KgTraining) {
  return {{{KgTraining::kOneVsAll, "one_vs_all"}, {KgTraining::kNegative, "negative"}}};
}

struct KgConfig {
  std::string data_dir;          // the layout of kg_dataset.h
  KgScore score = KgScore::kComplEx;
  int64_t dim = 200;             // real numbers per entity row (complex and rotate: dim/2 complex numbers)
  double gamma = 6.0;            // margin of transe and rotate: score = gamma - distance
  KgTraining training = KgTraining::kOneVsAll;
  // Each training triple (h, r, t) also trains (t, r + R, h), and head queries
  // are answered as tail queries of the reciprocal relation.
  bool reciprocal = true;
  int64_t batch = 512;           // triples per global batch (all data-parallel ranks)
  int64_t negatives = 256;       // per batch, shared by its triples (training: negative)
  double adversarial_temperature = 0.0;  // RotatE's self-adversarial weights; 0 = uniform
  double n3 = 0.0;               // weight of the N3 regulariser (ComplEx-N3); 0 = off
  double init_scale = 1e-3;      // complex: N(0, 1) x init_scale; transe, rotate: uniform in (gamma+2)/width
  int64_t eval_batch = 128;      // queries scored at once in evaluation
  int64_t valid_max = 0;         // validation triples scored each epoch (the first ones); 0 = all
  int64_t test_max = 0;          // test triples scored at the end (the first ones); 0 = all
  std::string filter = "train,valid,test";  // the splits whose triples are filtered out of rankings

  template <class V>
  void visit(V& v) {
    v.field("data_dir", data_dir);
    v.field("score", score);
    v.field("dim", dim, check::atLeast<int64_t>(2));
    v.field("gamma", gamma, check::atLeast(0.0));
    v.field("training", training);
    v.field("reciprocal", reciprocal);
    v.field("batch", batch, check::atLeast<int64_t>(1));
    v.field("negatives", negatives, check::atLeast<int64_t>(1));
    v.field("adversarial_temperature", adversarial_temperature, check::atLeast(0.0));
    v.field("n3", n3, check::atLeast(0.0));
    v.field("init_scale", init_scale, check::greaterThan(0.0));
    v.field("eval_batch", eval_batch, check::atLeast<int64_t>(1));
    v.field("valid_max", valid_max, check::atLeast<int64_t>(0));
    v.field("test_max", test_max, check::atLeast<int64_t>(0));
    v.field("filter", filter);
  }
};

}  // namespace autoglm::core::kg
