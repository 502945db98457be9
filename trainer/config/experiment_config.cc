#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

ExperimentConfig ExperimentConfig::fromYaml(const YAML::Node& root, const std::string& source) {
  ExperimentConfig cfg;
  core::YamlReader reader(root, source);
  cfg.visit(reader);
  reader.finish();
  return cfg;
}

ExperimentConfig ExperimentConfig::load(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  YAML::Node root = core::loadYamlFile(path);
  for (const auto& o : overrides) core::applyOverride(root, o);
  return fromYaml(root, path);
}

}  // namespace autoglm::trainer
