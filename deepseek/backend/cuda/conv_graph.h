// Convolutions through cuDNN's graph (backend) API: the engines cuDNN 9 offers for the
// operation (Hopper's implicit-GEMM kernels among them, which the legacy cudnnFind* API does
// not reach for bf16 channels_last), ranked by cuDNN's heuristics, the best few benchmarked
// once per shape and the fastest plan cached. conv.cpp falls back to the legacy API when no
// engine takes a case.
#pragma once

#include <cudnn.h>

#include <string>

#include "deepseek/core/tensor.h"

namespace deepseek::cuda {

enum class ConvKind { forward, backward_data, backward_filter };

struct ConvGeometry {
  int64_t stride[2], pre_pad[2], post_pad[2], dilation[2];
};

// kind forward: y = conv(x, w); backward_data: x = conv^T(y, w); backward_filter: w = the
// correlation of x with y. The output is written (beta 0). All three tensors are dense in one
// layout, NHWC when nhwc. `key` names the case (shapes, strides, dtype, arguments, modes).
// Returns false when no engine supports the case.
bool conv_graph(ConvKind kind, cudnnHandle_t h, const Tensor& x, const Tensor& w, const Tensor& y, bool nhwc,
                const ConvGeometry& g, const std::string& key);

}  // namespace deepseek::cuda
