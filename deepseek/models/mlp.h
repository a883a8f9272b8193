// MLP: a stack of Linear + activation (+ dropout) layers over flattened inputs, the simplest
// model of the zoo (a Fashion-MNIST baseline: 784 -> 256 -> 128 -> 10).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct MLPConfig {
  int64_t in_features = 784;
  std::vector<int64_t> hidden = {256, 128};
  int64_t out_features = 10;
  std::string activation = "relu";
  double dropout = 0.0;
  bool bias = true;
  static MLPConfig from_json(const nlohmann::json& j);
};

class MLP : public nn::Module {
 public:
  explicit MLP(MLPConfig config = {}, TensorOptions to = {});
  // Inputs of any shape (N, ...) are flattened to (N, in_features).
  Tensor forward(const Tensor& x) override;

  MLPConfig config;
  std::shared_ptr<nn::Sequential> layers;
};

}  // namespace deepseek::models
