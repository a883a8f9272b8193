#include "deepseek/models/vit.h"

#include "deepseek/models/config.h"

namespace deepseek::models {

ViTConfig ViTConfig::from_json(const nlohmann::json& j) {
  ViTConfig c;
  ConfigReader r(j, "vit config");
  r.get("image_size", c.image_size);
  r.get("patch_size", c.patch_size);
  r.get("in_channels", c.in_channels);
  r.get("num_classes", c.num_classes);
  r.get("dim", c.dim);
  r.get("depth", c.depth);
  r.get("heads", c.heads);
  r.get("mlp_dim", c.mlp_dim);
  r.get("dropout", c.dropout);
  r.get("layer_norm_eps", c.layer_norm_eps);
  r.finish();
  if (c.patch_size <= 0 || c.image_size <= 0 || c.image_size % c.patch_size != 0)
    throw ConfigError("vit config: image_size must be a positive multiple of patch_size");
  if (c.dim <= 0 || c.heads <= 0 || c.dim % c.heads != 0)
    throw ConfigError("vit config: dim must be a positive multiple of heads");
  if (c.depth < 0 || c.mlp_dim <= 0 || c.num_classes <= 0 || c.in_channels <= 0)
    throw ConfigError("vit config: sizes must be positive");
  return c;
}

nlohmann::json ViTConfig::tiny_json() { return {{"dim", 192}, {"depth", 12}, {"heads", 3}, {"mlp_dim", 768}}; }
nlohmann::json ViTConfig::small_json() { return {{"dim", 384}, {"depth", 12}, {"heads", 6}, {"mlp_dim", 1536}}; }

ViT::ViT(ViTConfig cfg, TensorOptions to) : nn::Module("ViT"), config(cfg) {
  const int64_t grid = cfg.image_size / cfg.patch_size;
  patch_embed = register_module(
      "patch_embed", std::make_shared<nn::Conv2d>(cfg.in_channels, cfg.dim, cfg.patch_size,
                                                  cfg.patch_size, 0, true, to));
  cls_token = zeros({1, 1, cfg.dim}, to);
  bind_parameter("cls_token", cls_token);
  pos_embed = empty({1, grid * grid + 1, cfg.dim}, to);
  nn::init::trunc_normal_(pos_embed, 0.0, 0.02);
  bind_parameter("pos_embed", pos_embed);
  nn::init::trunc_normal_(cls_token, 0.0, 1e-6);
  pos_drop = register_module("pos_drop", std::make_shared<nn::Dropout>(cfg.dropout));
  nn::TransformerLayerOptions lo;
  lo.dim_feedforward = cfg.mlp_dim;
  lo.dropout = cfg.dropout;
  lo.activation = "gelu";
  lo.layer_norm_eps = cfg.layer_norm_eps;
  lo.batch_first = true;
  lo.norm_first = true;
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < cfg.depth; ++i)
    blocks->push_back(std::make_shared<nn::TransformerEncoderLayer>(cfg.dim, cfg.heads, lo, to));
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{cfg.dim}, cfg.layer_norm_eps,
                                                                 true, true, to));
  head = register_module("head", std::make_shared<nn::Linear>(cfg.dim, cfg.num_classes, true, to));
}

Tensor ViT::forward(const Tensor& x) {
  DS_CHECK(x.dim() == 4 && x.size(1) == config.in_channels && x.size(2) == config.image_size &&
               x.size(3) == config.image_size,
           "[ViT] expected input (N, ", config.in_channels, ", ", config.image_size, ", ",
           config.image_size, "), got shape ", to_string(x.sizes()));
  const int64_t n = x.size(0);
  Tensor h = transpose(flatten((*patch_embed)(x), 2), 1, 2);  // (N, patches, dim)
  h = cat({expand(cls_token, {n, 1, config.dim}), h}, 1);
  h = (*pos_drop)(add(h, pos_embed));
  for (const auto& b : *blocks) h = (*b)(h);
  h = (*norm)(h);
  return (*head)(select(h, 1, 0));
}

}  // namespace deepseek::models
