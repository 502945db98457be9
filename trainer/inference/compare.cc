#include "trainer/inference/compare.h"

#include <ATen/Functions.h>
#include <fmt/format.h>

#include <ostream>

#include "core/error.h"
#include "trainer/inference/evaluator.h"
#include "trainer/inference/predictor.h"

namespace autoglm::trainer {
namespace {

struct Scored {
  std::string dir;
  std::vector<std::string> label_names;
  std::vector<int64_t> predicted, labels;
};

Scored scoreCheckpoint(const std::string& path, const std::vector<std::string>& overrides) {
  const CheckpointOnData c = openOnData(path, overrides);
  Scored s{c.ckpt.dir, c.ckpt.label_names, {}, {}};
  const std::vector<int64_t> test = c.data.indicesOf(core::text::Split::kTest);
  const core::graph::BatchLimits limits{c.cfg.train.eval_batch_graphs, 0};
  for (const auto& b : core::graph::planBatches(test, [&](int64_t i) { return c.data.store.numNodes(i); }, limits)) {
    std::vector<core::graph::GraphView> views;
    for (int64_t i : b) views.push_back(c.data.store.graph(i));
    const at::Tensor best = c.evaluator->classify(views).probabilities.argmax(1);
    for (size_t k = 0; k < b.size(); ++k) {
      s.predicted.push_back(best[static_cast<int64_t>(k)].item<int64_t>());
      s.labels.push_back(views[k].label);
    }
  }
  return s;
}

double accuracyOf(const Scored& s) {
  int64_t right = 0;
  for (size_t i = 0; i < s.labels.size(); ++i) right += s.predicted[i] == s.labels[i];
  return s.labels.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(s.labels.size());
}

double macroF1(const std::vector<ClassScores>& c) {
  double sum = 0.0;
  int64_t n = 0;
  for (const auto& x : c) {
    if (x.support == 0) continue;
    sum += x.f1;
    ++n;
  }
  return n == 0 ? 0.0 : sum / static_cast<double>(n);
}

}  // namespace

std::vector<ClassScores> classScores(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels,
                                     int64_t classes) {
  AUTOGLM_CHECK(predicted.size() == labels.size(), "classScores: ", predicted.size(), " predictions for ",
                labels.size(), " labels");
  std::vector<int64_t> tp(static_cast<size_t>(classes)), fp(tp), fn(tp);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto p = static_cast<size_t>(predicted[i]), l = static_cast<size_t>(labels[i]);
    if (p == l) {
      ++tp[p];
    } else {
      ++fp[p];
      ++fn[l];
    }
  }
  std::vector<ClassScores> out(static_cast<size_t>(classes));
  for (size_t c = 0; c < out.size(); ++c) {
    auto ratio = [](int64_t a, int64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b); };
    out[c].precision = ratio(tp[c], tp[c] + fp[c]);
    out[c].recall = ratio(tp[c], tp[c] + fn[c]);
    const double pr = out[c].precision + out[c].recall;
    out[c].f1 = pr == 0.0 ? 0.0 : 2.0 * out[c].precision * out[c].recall / pr;
    out[c].support = tp[c] + fn[c];
  }
  return out;
}

int runCompare(const std::string& a, const std::string& b, const std::vector<std::string>& overrides,
               std::ostream& out) {
  const Scored sa = scoreCheckpoint(a, overrides), sb = scoreCheckpoint(b, overrides);
  if (sa.label_names != sb.label_names) {
    throw CheckpointError(sa.dir + " and " + sb.dir + " have different labels; they cannot be compared");
  }
  if (sa.labels != sb.labels) {
    throw DataError(sa.dir + " and " + sb.dir + " were trained on different data: their test documents differ");
  }
  const auto ca = classScores(sa.predicted, sa.labels, static_cast<int64_t>(sa.label_names.size()));
  const auto cb = classScores(sb.predicted, sb.labels, static_cast<int64_t>(sb.label_names.size()));
  int64_t agree = 0, only_a = 0, only_b = 0;
  for (size_t i = 0; i < sa.labels.size(); ++i) {
    agree += sa.predicted[i] == sb.predicted[i];
    only_a += sa.predicted[i] == sa.labels[i] && sb.predicted[i] != sb.labels[i];
    only_b += sb.predicted[i] == sb.labels[i] && sa.predicted[i] != sa.labels[i];
  }
  const double n = static_cast<double>(sa.labels.size());
  out << fmt::format("A: {}\nB: {}\n{} test documents; agreement {:.4f}; right only in A {}, only in B {}\n\n", sa.dir,
                     sb.dir, sa.labels.size(), static_cast<double>(agree) / n, only_a, only_b);
  out << "| | A | B | B - A |\n|---|---|---|---|\n";
  out << fmt::format("| accuracy | {:.4f} | {:.4f} | {:+.4f} |\n", accuracyOf(sa), accuracyOf(sb),
                     accuracyOf(sb) - accuracyOf(sa));
  out << fmt::format("| macro F1 | {:.4f} | {:.4f} | {:+.4f} |\n", macroF1(ca), macroF1(cb), macroF1(cb) - macroF1(ca));
  for (size_t c = 0; c < ca.size(); ++c) {
    out << fmt::format("| F1 {} ({} docs) | {:.4f} | {:.4f} | {:+.4f} |\n", sa.label_names[c], ca[c].support, ca[c].f1,
                       cb[c].f1, cb[c].f1 - ca[c].f1);
  }
  return 0;
}

}  // namespace autoglm::trainer
