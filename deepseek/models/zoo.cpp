#include "deepseek/models/zoo.h"

#include <functional>
#include <map>

#include "deepseek/models/bert.h"
#include "deepseek/models/config.h"
#include "deepseek/models/gpt.h"
#include "deepseek/models/mlp.h"
#include "deepseek/models/resnet.h"
#include "deepseek/models/small_cnn.h"
#include "deepseek/models/vit.h"

namespace deepseek::models {

namespace {

using Factory = std::function<nn::ModulePtr(const nlohmann::json&, TensorOptions)>;

// A preset: defaults from `base`, then the user's keys on top.
nlohmann::json merged(nlohmann::json base, const nlohmann::json& user) {
  if (user.is_object())
    for (auto& [k, v] : user.items()) base[k] = v;
  return base;
}

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"mlp", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<MLP>(MLPConfig::from_json(j), to);
       }},
      {"smallcnn", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<SmallCNN>(SmallCNNConfig::from_json(j), to);
       }},
      {"resnet", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ResNet>(ResNetConfig::from_json(j), to);
       }},
      {"resnet18", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ResNet>(ResNetConfig::from_json(merged({{"depth", 18}}, j)), to);
       }},
      {"resnet34", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ResNet>(ResNetConfig::from_json(merged({{"depth", 34}}, j)), to);
       }},
      {"resnet50", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ResNet>(ResNetConfig::from_json(merged({{"depth", 50}}, j)), to);
       }},
      {"vit", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ViT>(ViTConfig::from_json(j), to);
       }},
      {"vit_tiny", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ViT>(ViTConfig::from_json(merged(ViTConfig::tiny_json(), j)), to);
       }},
      {"vit_small", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<ViT>(ViTConfig::from_json(merged(ViTConfig::small_json(), j)), to);
       }},
      {"bert", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<Bert>(BertConfig::from_json(j), to);
       }},
      {"bert_base", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<Bert>(BertConfig::from_json(merged(BertConfig::base_json(), j)), to);
       }},
      {"gpt", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<GPT>(GPTConfig::from_json(j), to);
       }},
      {"gpt2", [](const nlohmann::json& j, TensorOptions to) {
         return std::make_shared<GPT>(GPTConfig::from_json(merged(GPTConfig::gpt2_small_json(), j)), to);
       }},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (auto& [k, v] : factories()) names.push_back(k);
  return names;
}

nn::ModulePtr create_model(const std::string& name, const nlohmann::json& config, TensorOptions to) {
  auto it = factories().find(name);
  if (it == factories().end()) {
    std::string known;
    for (auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("unknown model '" + name + "' (known: " + known + ")");
  }
  if (!config.is_null() && !config.is_object())
    throw ConfigError("model config for '" + name + "' must be a mapping, got " + config.dump());
  return it->second(config.is_null() ? nlohmann::json::object() : config, to);
}

nn::ModulePtr create_model(const nlohmann::json& spec, TensorOptions to) {
  if (spec.is_string()) return create_model(spec.get<std::string>(), {}, to);
  if (!spec.is_object() || !spec.contains("name") || !spec["name"].is_string())
    throw ConfigError("model must be a name or a mapping with a 'name' key, got " + spec.dump());
  nlohmann::json rest = spec;
  rest.erase("name");
  return create_model(spec["name"].get<std::string>(), rest, to);
}

}  // namespace deepseek::models
