#include "trainer/observe/metrics.h"

#include <chrono>
#include <filesystem>

#include "core/error.h"

namespace autoglm::trainer {

MetricsWriter::MetricsWriter(const std::string& path, bool append) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  out_.open(path, append ? std::ios::app : std::ios::trunc);
  if (!out_) throw Error(path + ": cannot open metrics file for writing");
}

void MetricsWriter::write(nlohmann::json record) {
  if (!out_.is_open()) return;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["time"] = now;
  out_ << record.dump() << '\n';
  out_.flush();
}

}  // namespace autoglm::trainer
