// Ops that exist for the backward passes of convolution and pooling. They are ordinary ops
// (own definitions, kernels and backward rules), so double backward and tracing of a backward
// pass work; most users never call them directly.
#pragma once

#include <tuple>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek {

// Gradient of conv2d with respect to its input (input_size: N, C, H, W) and its weight
// (weight_size: OC, C/groups, KH, KW). padding is (top, left); padding_r (bottom, right)
// defaults to padding. conv2d_backward_input is also conv_transpose2d without bias.
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_size,
                             std::vector<int64_t> stride, std::vector<int64_t> padding,
                             std::vector<int64_t> dilation, int64_t groups,
                             std::vector<int64_t> padding_r = {});
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Shape& weight_size,
                              std::vector<int64_t> stride, std::vector<int64_t> padding,
                              std::vector<int64_t> dilation, int64_t groups,
                              std::vector<int64_t> padding_r = {});

// Max pooling with PyTorch's indices (flat positions within each H*W plane).
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::vector<int64_t> kernel,
                                                   std::vector<int64_t> stride = {},
                                                   std::vector<int64_t> padding = {0, 0},
                                                   std::vector<int64_t> dilation = {1, 1},
                                                   bool ceil_mode = false);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_size, std::vector<int64_t> kernel,
                           std::vector<int64_t> stride, std::vector<int64_t> padding,
                           bool count_include_pad);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_size);
// col2im, the adjoint of unfold: (N, C*kh*kw, L) -> (N, C, H, W), overlapping values summed.
Tensor fold(const Tensor& cols, std::vector<int64_t> output_size, std::vector<int64_t> kernel,
            std::vector<int64_t> dilation = {1, 1}, std::vector<int64_t> padding = {0, 0},
            std::vector<int64_t> stride = {1, 1});

}  // namespace deepseek
