// Vision Transformer (Dosovitskiy et al. 2021) in timm's layout: patch embedding by a
// stride-p convolution, a class token and learned position embeddings, pre-norm encoder
// blocks (GELU MLP), a final LayerNorm and a linear head on the class token. Presets: tiny
// (192 wide, 12 deep, 3 heads: 5,717,416 parameters at 224/16 with 1000 classes) and small
// (384, 12, 6: 22,050,664).
#pragma once

#include <nlohmann/json.hpp>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct ViTConfig {
  int64_t image_size = 224, patch_size = 16, in_channels = 3, num_classes = 1000;
  int64_t dim = 192, depth = 12, heads = 3, mlp_dim = 768;
  double dropout = 0.0, layer_norm_eps = 1e-6;
  static ViTConfig from_json(const nlohmann::json& j);
  static nlohmann::json tiny_json();
  static nlohmann::json small_json();
};

class ViT : public nn::Module {
 public:
  explicit ViT(ViTConfig config = {}, TensorOptions to = {});
  Tensor forward(const Tensor& x) override;

  ViTConfig config;
  std::shared_ptr<nn::Conv2d> patch_embed;
  Tensor cls_token;  // [1, 1, dim]
  Tensor pos_embed;  // [1, patches + 1, dim]
  std::shared_ptr<nn::Dropout> pos_drop;
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace deepseek::models
