// ResNet (He et al. 2016) in torchvision's layout (same module names, so state dicts line up):
// BasicBlock for depth 18/34, Bottleneck (stride on the 3×3, "v1.5") for 50. Two stems:
// "imagenet" (7×7 stride-2 conv + 3×3 max pool, for 224×224) and "small" (3×3 stride-1 conv,
// no pool, for 28×28 / 32×32 images). ResNet-50 with 1000 classes has 25,557,032 parameters.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct ResNetConfig {
  int64_t depth = 18;  // 18, 34 or 50
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  std::string stem = "imagenet";  // or "small"
  int64_t width = 64;             // channels after the stem
  bool zero_init_residual = false;
  static ResNetConfig from_json(const nlohmann::json& j);
};

class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in, int64_t planes, int64_t stride, TensorOptions to);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;  // null when the shapes already match
};

class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride, TensorOptions to);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Sequential> downsample;
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(ResNetConfig config = {}, TensorOptions to = {});
  Tensor forward(const Tensor& x) override;
  // Everything up to (not including) the classifier: (N, C) pooled features.
  Tensor features(const Tensor& x);

  ResNetConfig config;
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;  // imagenet stem only
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace deepseek::models
