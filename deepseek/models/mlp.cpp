#include "deepseek/models/mlp.h"

#include "deepseek/models/config.h"

namespace deepseek::models {

MLPConfig MLPConfig::from_json(const nlohmann::json& j) {
  MLPConfig c;
  ConfigReader r(j, "mlp config");
  r.get("in_features", c.in_features);
  r.get("hidden", c.hidden);
  r.get("out_features", c.out_features);
  r.get("activation", c.activation);
  r.get("dropout", c.dropout);
  r.get("bias", c.bias);
  r.finish();
  if (c.in_features <= 0 || c.out_features <= 0) throw ConfigError("mlp config: feature counts must be positive");
  for (auto h : c.hidden)
    if (h <= 0) throw ConfigError("mlp config: hidden sizes must be positive");
  if (c.dropout < 0 || c.dropout >= 1) throw ConfigError("mlp config: dropout must be in [0, 1)");
  return c;
}

MLP::MLP(MLPConfig cfg, TensorOptions to) : nn::Module("MLP"), config(std::move(cfg)) {
  layers = register_module("layers", std::make_shared<nn::Sequential>());
  int64_t in = config.in_features;
  for (int64_t h : config.hidden) {
    layers->push_back(std::make_shared<nn::Linear>(in, h, config.bias, to));
    layers->push_back(nn::make_activation(config.activation));
    if (config.dropout > 0) layers->push_back(std::make_shared<nn::Dropout>(config.dropout));
    in = h;
  }
  layers->push_back(std::make_shared<nn::Linear>(in, config.out_features, config.bias, to));
}

Tensor MLP::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= 1, "[MLP] input must have a batch dimension, got a 0-d tensor");
  Tensor flat = x.dim() == 2 ? x : flatten(x, 1);
  DS_CHECK(flat.size(1) == config.in_features, "[MLP] expected ", config.in_features,
           " features per example, got shape ", to_string(x.sizes()));
  return (*layers)(flat);
}

}  // namespace deepseek::models
