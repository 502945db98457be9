#pragma once
// `autoglm compare A B`: two checkpoints evaluated on the same test documents,
// side by side: accuracy, macro F1, F1 per class, and how often they agree.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace autoglm::trainer {

struct ClassScores {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
  int64_t support = 0;  // documents of the class
};

// Scores of predictions against labels (class ids in [0, classes)).
std::vector<ClassScores> classScores(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels,
                                     int64_t classes);

// Evaluates both checkpoints (or run directories) on the test split of their
// data (overrides, e.g. data.dir=..., apply to both configs). Their labels
// must be the same, and so must the test documents' labels. Writes a Markdown
// table to `out`.
int runCompare(const std::string& a, const std::string& b, const std::vector<std::string>& overrides,
               std::ostream& out);

}  // namespace autoglm::trainer
