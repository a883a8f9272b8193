// The model zoo by name: `create_model("smallcnn")`, `create_model("resnet18", {{"stem",
// "small"}, {"num_classes", 10}})`, or from a config node that is either a name or a mapping
// with a "name" key and the model's config keys (what `deepseek train --config` reads).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/nn/module.h"

namespace deepseek::models {

// Throws ConfigError for an unknown name or a bad config.
nn::ModulePtr create_model(const std::string& name, const nlohmann::json& config = {},
                           TensorOptions to = {});
inline nn::ModulePtr create_model(const char* name, const nlohmann::json& config = {},
                                  TensorOptions to = {}) {
  return create_model(std::string(name), config, to);
}
nn::ModulePtr create_model(const nlohmann::json& spec, TensorOptions to = {});
std::vector<std::string> model_names();

}  // namespace deepseek::models
