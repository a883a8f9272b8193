// Linear (y = x Wᵀ + b), Identity and Flatten.
#pragma once

#include "deepseek/nn/module.h"

namespace deepseek::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, TensorOptions options = {});
  Tensor forward(const Tensor& x) override;
  // PyTorch's defaults: weight kaiming_uniform(a=√5), bias uniform(±1/√fan_in).
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features] or undefined
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override { return inputs; }
  Tensor forward(const Tensor& x) override { return x; }
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim, end_dim); }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
  }
  int64_t start_dim, end_dim;
};

}  // namespace deepseek::nn
