#include "deepseek/models/small_cnn.h"

#include "deepseek/models/config.h"

namespace deepseek::models {

SmallCNNConfig SmallCNNConfig::from_json(const nlohmann::json& j) {
  SmallCNNConfig c;
  ConfigReader r(j, "smallcnn config");
  r.get("in_channels", c.in_channels);
  r.get("image_size", c.image_size);
  r.get("num_classes", c.num_classes);
  r.get("channels1", c.channels1);
  r.get("channels2", c.channels2);
  r.get("hidden", c.hidden);
  r.finish();
  if (c.in_channels <= 0 || c.num_classes <= 0 || c.channels1 <= 0 || c.channels2 <= 0 ||
      c.hidden <= 0)
    throw ConfigError("smallcnn config: sizes must be positive");
  if (c.image_size < 4 || c.image_size % 4 != 0)
    throw ConfigError("smallcnn config: image_size must be a positive multiple of 4, got " +
                      std::to_string(c.image_size));
  return c;
}

SmallCNN::SmallCNN(SmallCNNConfig cfg, TensorOptions to) : nn::Module("SmallCNN"), config(cfg) {
  using namespace nn;
  features = register_module(
      "features",
      std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
          std::make_shared<Conv2d>(cfg.in_channels, cfg.channels1, 3, 1, 1, true, to),
          std::make_shared<BatchNorm2d>(cfg.channels1, BatchNormOptions{}, to),
          std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
          std::make_shared<Conv2d>(cfg.channels1, cfg.channels2, 3, 1, 1, true, to),
          std::make_shared<BatchNorm2d>(cfg.channels2, BatchNormOptions{}, to),
          std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2)}));
  const int64_t side = cfg.image_size / 4;
  classifier = register_module(
      "classifier", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                        std::make_shared<Flatten>(),
                        std::make_shared<Linear>(cfg.channels2 * side * side, cfg.hidden, true, to),
                        std::make_shared<ReLU>(),
                        std::make_shared<Linear>(cfg.hidden, cfg.num_classes, true, to)}));
}

Tensor SmallCNN::forward(const Tensor& x) {
  DS_CHECK(x.dim() == 4 && x.size(1) == config.in_channels &&
               x.size(2) == config.image_size && x.size(3) == config.image_size,
           "[SmallCNN] expected input (N, ", config.in_channels, ", ", config.image_size, ", ",
           config.image_size, "), got shape ", to_string(x.sizes()));
  return (*classifier)((*features)(x));
}

}  // namespace deepseek::models
