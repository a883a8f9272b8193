// Pooling modules: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (oneDNN underneath).
#pragma once

#include <vector>

#include "deepseek/nn/module.h"

namespace deepseek::nn {

class MaxPool2d : public Module {
 public:
  // stride empty: equal to kernel_size (as PyTorch).
  explicit MaxPool2d(std::vector<int64_t> kernel_size, std::vector<int64_t> stride = {},
                     std::vector<int64_t> padding = {0, 0}, std::vector<int64_t> dilation = {1, 1},
                     bool ceil_mode = false);
  explicit MaxPool2d(int64_t kernel_size) : MaxPool2d(std::vector<int64_t>{kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::vector<int64_t> kernel_size, stride, padding, dilation;
  bool ceil_mode;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(std::vector<int64_t> kernel_size, std::vector<int64_t> stride = {},
                     std::vector<int64_t> padding = {0, 0}, bool count_include_pad = true);
  explicit AvgPool2d(int64_t kernel_size) : AvgPool2d(std::vector<int64_t>{kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::vector<int64_t> kernel_size, stride, padding;
  bool count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::vector<int64_t> output_size);
  explicit AdaptiveAvgPool2d(int64_t output_size)
      : AdaptiveAvgPool2d(std::vector<int64_t>{output_size}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::vector<int64_t> output_size;
};

}  // namespace deepseek::nn
