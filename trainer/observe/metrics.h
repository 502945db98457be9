#pragma once
// Metrics as JSON lines: one object per event, flushed as written, so a run
// that dies keeps every line it reached. Appends on resume.

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace autoglm::trainer {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  MetricsWriter(const std::string& path, bool append);
  void write(nlohmann::json record);
  bool enabled() const { return out_.is_open(); }

 private:
  std::ofstream out_;
};

}  // namespace autoglm::trainer
