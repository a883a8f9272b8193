// SmallCNN: the Fashion-MNIST reference network of the project (421,834 parameters for
// 1×28×28 inputs and 10 classes):
//   conv 3×3 1→32 (pad 1) + BN + ReLU + maxpool 2
//   conv 3×3 32→64 (pad 1) + BN + ReLU + maxpool 2
//   linear 64·7·7=3136 → 128 + ReLU, linear 128 → 10
#pragma once

#include <nlohmann/json.hpp>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct SmallCNNConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;  // square inputs; must be divisible by 4
  int64_t num_classes = 10;
  int64_t channels1 = 32, channels2 = 64, hidden = 128;
  static SmallCNNConfig from_json(const nlohmann::json& j);
};

class SmallCNN : public nn::Module {
 public:
  explicit SmallCNN(SmallCNNConfig config = {}, TensorOptions to = {});
  Tensor forward(const Tensor& x) override;

  SmallCNNConfig config;
  std::shared_ptr<nn::Sequential> features, classifier;
};

}  // namespace deepseek::models
