#include "deepseek/models/resnet.h"

#include "deepseek/models/config.h"

namespace deepseek::models {

namespace {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride,
                                 TensorOptions to) {
  auto c = std::make_shared<nn::Conv2d>(in, out, k, stride, k / 2, false, to);
  // torchvision: kaiming_normal_(fan_out, relu) for every conv.
  nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::fan_out, "relu");
  return c;
}

std::shared_ptr<nn::Sequential> make_downsample(int64_t in, int64_t out, int64_t stride,
                                                TensorOptions to) {
  if (stride == 1 && in == out) return nullptr;
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      conv(in, out, 1, stride, to), std::make_shared<nn::BatchNorm2d>(out, nn::BatchNormOptions{}, to)});
}

}  // namespace

ResNetConfig ResNetConfig::from_json(const nlohmann::json& j) {
  ResNetConfig c;
  ConfigReader r(j, "resnet config");
  r.get("depth", c.depth);
  r.get("num_classes", c.num_classes);
  r.get("in_channels", c.in_channels);
  r.get("stem", c.stem);
  r.get("width", c.width);
  r.get("zero_init_residual", c.zero_init_residual);
  r.finish();
  if (c.depth != 18 && c.depth != 34 && c.depth != 50)
    throw ConfigError("resnet config: depth must be 18, 34 or 50, got " + std::to_string(c.depth));
  if (c.stem != "imagenet" && c.stem != "small")
    throw ConfigError("resnet config: stem must be 'imagenet' or 'small', got '" + c.stem + "'");
  if (c.num_classes <= 0 || c.in_channels <= 0 || c.width <= 0)
    throw ConfigError("resnet config: sizes must be positive");
  return c;
}

BasicBlock::BasicBlock(int64_t in, int64_t planes, int64_t stride, TensorOptions to)
    : nn::Module("BasicBlock") {
  conv1 = register_module("conv1", conv(in, planes, 3, stride, to));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes, nn::BatchNormOptions{}, to));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, to));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes, nn::BatchNormOptions{}, to));
  if (auto d = make_downsample(in, planes * expansion, stride, to))
    downsample = register_module("downsample", d);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu((*bn1)((*conv1)(x)));
  out = (*bn2)((*conv2)(out));
  return relu(add(out, downsample ? (*downsample)(x) : x));
}

Bottleneck::Bottleneck(int64_t in, int64_t planes, int64_t stride, TensorOptions to)
    : nn::Module("Bottleneck") {
  conv1 = register_module("conv1", conv(in, planes, 1, 1, to));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes, nn::BatchNormOptions{}, to));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, to));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes, nn::BatchNormOptions{}, to));
  conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1, to));
  bn3 = register_module("bn3",
                        std::make_shared<nn::BatchNorm2d>(planes * expansion, nn::BatchNormOptions{}, to));
  if (auto d = make_downsample(in, planes * expansion, stride, to))
    downsample = register_module("downsample", d);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu((*bn1)((*conv1)(x)));
  out = relu((*bn2)((*conv2)(out)));
  out = (*bn3)((*conv3)(out));
  return relu(add(out, downsample ? (*downsample)(x) : x));
}

ResNet::ResNet(ResNetConfig cfg, TensorOptions to) : nn::Module("ResNet"), config(cfg) {
  const bool small = cfg.stem == "small";
  conv1 = register_module("conv1", small ? conv(cfg.in_channels, cfg.width, 3, 1, to)
                                         : conv(cfg.in_channels, cfg.width, 7, 2, to));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(cfg.width, nn::BatchNormOptions{}, to));
  if (!small)
    maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(
                                             std::vector<int64_t>{3, 3}, std::vector<int64_t>{2, 2},
                                             std::vector<int64_t>{1, 1}));
  std::vector<int64_t> blocks = cfg.depth == 18 ? std::vector<int64_t>{2, 2, 2, 2}
                                                : std::vector<int64_t>{3, 4, 6, 3};
  const bool bottleneck = cfg.depth == 50;
  const int64_t expansion = bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  int64_t in = cfg.width;
  std::shared_ptr<nn::Sequential>* stages[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int s = 0; s < 4; ++s) {
    auto seq = std::make_shared<nn::Sequential>();
    const int64_t planes = cfg.width << s;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      if (bottleneck) {
        auto blk = std::make_shared<Bottleneck>(in, planes, stride, to);
        if (cfg.zero_init_residual) nn::init::zeros_(blk->bn3->weight);
        seq->push_back(blk);
      } else {
        auto blk = std::make_shared<BasicBlock>(in, planes, stride, to);
        if (cfg.zero_init_residual) nn::init::zeros_(blk->bn2->weight);
        seq->push_back(blk);
      }
      in = planes * expansion;
    }
    *stages[s] = register_module("layer" + std::to_string(s + 1), seq);
  }
  fc = register_module("fc", std::make_shared<nn::Linear>(in, cfg.num_classes, true, to));
}

Tensor ResNet::features(const Tensor& x) {
  DS_CHECK(x.dim() == 4 && x.size(1) == config.in_channels, "[ResNet] expected input (N, ",
           config.in_channels, ", H, W), got shape ", to_string(x.sizes()));
  Tensor h = relu((*bn1)((*conv1)(x)));
  if (maxpool) h = (*maxpool)(h);
  h = (*layer4)((*layer3)((*layer2)((*layer1)(h))));
  return flatten(adaptive_avg_pool2d(h, {1, 1}), 1);
}

Tensor ResNet::forward(const Tensor& x) { return (*fc)(features(x)); }

}  // namespace deepseek::models
