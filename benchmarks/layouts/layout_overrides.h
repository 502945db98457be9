#pragma once
// The config overrides of a "dp,tp,pp" layout argument (layout_step, resume_rss).

#include <sstream>
#include <string>
#include <vector>

namespace autoglm::benchmarks {

inline std::vector<std::string> layoutOverrides(const std::string& layout) {
  int dp = 1, tp = 1, pp = 1;
  char c1 = 0, c2 = 0;
  std::istringstream(layout) >> dp >> c1 >> tp >> c2 >> pp;
  return {"parallel.dp=" + std::to_string(dp), "parallel.tp=" + std::to_string(tp),
          "parallel.pp=" + std::to_string(pp)};
}

}  // namespace autoglm::benchmarks
