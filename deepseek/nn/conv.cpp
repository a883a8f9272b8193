#include "deepseek/nn/conv.h"

#include <cmath>

#include "deepseek/core/error.h"
#include "deepseek/nn/init.h"

namespace deepseek::nn {

namespace {
std::vector<int64_t> pair_of(std::vector<int64_t> v, const char* what) {
  DS_CHECK(v.size() == 1 || v.size() == 2, "[Conv2d] ", what, " takes 1 or 2 values, got ",
           v.size());
  if (v.size() == 1) v.push_back(v[0]);
  return v;
}
// PyTorch's _ConvNd.reset_parameters: kaiming_uniform(a=√5) on the weight, bias uniform in
// ±1/√fan_in (fan_in from the weight's dims 1.., which for transposed convs is out/groups·k).
void reset_conv(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}
void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  DS_CHECK(in > 0 && out > 0, "[", layer, "] channel counts must be positive, got ", in, " and ",
           out);
  DS_CHECK(groups > 0 && in % groups == 0 && out % groups == 0, "[", layer, "] in_channels (", in,
           ") and out_channels (", out, ") must be divisible by groups (", groups, ")");
}
}  // namespace

// ---- Conv1d ----

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, Conv1dOptions o, TensorOptions to)
    : Module("Conv1d"), in_channels(in), out_channels(out), kernel_size(k), options(o) {
  check_channels("Conv1d", in, out, o.groups);
  DS_CHECK(k > 0, "[Conv1d] kernel_size must be positive, got ", k);
  weight = empty({out, in / o.groups, k}, to);
  bind_parameter("weight", weight);
  if (o.bias) {
    bias = empty({out}, to);
    bind_parameter("bias", bias);
  }
  reset_parameters();
}
void Conv1d::reset_parameters() { reset_conv(weight, bias); }
Tensor Conv1d::forward(const Tensor& x) {
  return conv1d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}
std::string Conv1d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=(" + std::to_string(kernel_size) + ",), stride=(" +
                  std::to_string(options.stride) + ",)";
  if (options.padding) s += ", padding=(" + std::to_string(options.padding) + ",)";
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

// ---- Conv2d ----

Conv2d::Conv2d(int64_t in, int64_t out, std::vector<int64_t> k, Conv2dOptions o, TensorOptions to)
    : Module("Conv2d"),
      in_channels(in),
      out_channels(out),
      kernel_size(pair_of(k, "kernel_size")),
      options(std::move(o)) {
  check_channels("Conv2d", in, out, options.groups);
  options.stride = pair_of(options.stride, "stride");
  options.padding = pair_of(options.padding, "padding");
  options.dilation = pair_of(options.dilation, "dilation");
  DS_CHECK(options.padding_str.empty() || options.padding_str == "same" ||
               options.padding_str == "valid",
           "[Conv2d] padding must be 'same' or 'valid', got '", options.padding_str, "'");
  weight = empty({out, in / options.groups, kernel_size[0], kernel_size[1]}, to);
  bind_parameter("weight", weight);
  if (options.bias) {
    bias = empty({out}, to);
    bind_parameter("bias", bias);
  }
  reset_parameters();
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool has_bias,
               TensorOptions to)
    : Conv2d(in, out, std::vector<int64_t>{k, k},
             Conv2dOptions{{stride, stride}, {padding, padding}, "", {1, 1}, 1, has_bias}, to) {}

void Conv2d::reset_parameters() { reset_conv(weight, bias); }

Tensor Conv2d::forward(const Tensor& x) {
  if (!options.padding_str.empty())
    return conv2d(x, weight, bias, options.stride, options.padding_str, options.dilation,
                  options.groups);
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + detail::tuple_str(kernel_size) +
                  ", stride=" + detail::tuple_str(options.stride);
  if (!options.padding_str.empty())
    s += ", padding=" + options.padding_str;
  else if (options.padding != std::vector<int64_t>{0, 0})
    s += ", padding=" + detail::tuple_str(options.padding);
  if (options.dilation != std::vector<int64_t>{1, 1})
    s += ", dilation=" + detail::tuple_str(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, std::vector<int64_t> k,
                                 ConvTranspose2dOptions o, TensorOptions to)
    : Module("ConvTranspose2d"),
      in_channels(in),
      out_channels(out),
      kernel_size(pair_of(k, "kernel_size")),
      options(std::move(o)) {
  check_channels("ConvTranspose2d", in, out, options.groups);
  options.stride = pair_of(options.stride, "stride");
  options.padding = pair_of(options.padding, "padding");
  options.output_padding = pair_of(options.output_padding, "output_padding");
  options.dilation = pair_of(options.dilation, "dilation");
  weight = empty({in, out / options.groups, kernel_size[0], kernel_size[1]}, to);
  bind_parameter("weight", weight);
  if (options.bias) {
    bias = empty({out}, to);
    bind_parameter("bias", bias);
  }
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() { reset_conv(weight, bias); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, options.stride, options.padding, options.output_padding,
                          options.groups, options.dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + detail::tuple_str(kernel_size) +
                  ", stride=" + detail::tuple_str(options.stride);
  if (options.padding != std::vector<int64_t>{0, 0})
    s += ", padding=" + detail::tuple_str(options.padding);
  if (options.output_padding != std::vector<int64_t>{0, 0})
    s += ", output_padding=" + detail::tuple_str(options.output_padding);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

}  // namespace deepseek::nn
