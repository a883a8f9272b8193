// Convolutions (oneDNN underneath): Conv1d, Conv2d and ConvTranspose2d, with PyTorch's
// parameter shapes, defaults and initialization, so weights move between the two unchanged.
#pragma once

#include <string>
#include <vector>

#include "deepseek/nn/module.h"

namespace deepseek::nn {

struct Conv1dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
};

class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv1dOptions options = {},
         TensorOptions tensor_options = {});
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor weight;  // [out, in/groups, k]
  Tensor bias;
};

struct Conv2dOptions {
  std::vector<int64_t> stride = {1, 1};
  std::vector<int64_t> padding = {0, 0};
  std::string padding_str;  // "same" or "valid" instead of explicit padding
  std::vector<int64_t> dilation = {1, 1};
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  // kernel_size: {k} or {kh, kw}; option vectors likewise accept one or two values.
  Conv2d(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel_size,
         Conv2dOptions options = {}, TensorOptions tensor_options = {});
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
         int64_t padding = 0, bool bias = true, TensorOptions tensor_options = {});
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  std::vector<int64_t> kernel_size;
  Conv2dOptions options;
  Tensor weight;  // [out, in/groups, kh, kw]
  Tensor bias;
};

struct ConvTranspose2dOptions {
  std::vector<int64_t> stride = {1, 1};
  std::vector<int64_t> padding = {0, 0};
  std::vector<int64_t> output_padding = {0, 0};
  int64_t groups = 1;
  bool bias = true;
  std::vector<int64_t> dilation = {1, 1};
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel_size,
                  ConvTranspose2dOptions options = {}, TensorOptions tensor_options = {});
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  std::vector<int64_t> kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight;  // [in, out/groups, kh, kw]
  Tensor bias;
};

}  // namespace deepseek::nn
