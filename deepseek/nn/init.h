// Parameter initialization, as torch.nn.init: each function fills a tensor in place (without
// recording autograd history) and returns it. Random draws come from the default generator of
// the tensor's device, so `manual_seed` makes initialization reproducible. Layers call these in
// reset_parameters() with PyTorch's per-layer defaults.
#pragma once

#include <string>
#include <utility>

#include "deepseek/core/tensor.h"

namespace deepseek::nn::init {

enum class FanMode { fan_in, fan_out };

// The recommended gain for a nonlinearity: "linear", "conv*", "sigmoid" -> 1, "tanh" -> 5/3,
// "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
// (fan_in, fan_out) of a weight with at least 2 dims: size(1) and size(0) times the receptive
// field (the product of the remaining dims).
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);
// Normal(mean, std) restricted to [a, b] (inverse-CDF sampling, as PyTorch).
Tensor& trunc_normal_(Tensor& t, double mean = 0.0, double std = 1.0, double a = -2.0,
                      double b = 2.0);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0);
Tensor& xavier_normal_(Tensor& t, double gain = 1.0);
// a: the negative slope of the rectifier after this layer (leaky_relu only).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                         const std::string& nonlinearity = "leaky_relu");
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                        const std::string& nonlinearity = "leaky_relu");

}  // namespace deepseek::nn::init
