// Convolutions through cuDNN's graph (backend) API: the engines cuDNN 9 offers for the
// operation (Hopper's implicit-GEMM kernels among them, which the legacy cudnnFind* API does
// not reach for bf16 channels_last), ranked by cuDNN's heuristics (and its fallback list), the best few benchmarked
// once per shape and the fastest plan cached. conv.cpp falls back to the legacy API when no
// engine takes a case.
#pragma once

#include <cudnn.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "deepseek/core/tensor.h"

namespace deepseek::cuda {

enum class ConvKind { forward, backward_data, backward_filter };

// cuDNN's data type for t (f32, f64, f16, bf16; anything else throws).
cudnnDataType_t cudnn_data_type(DType t);

// The value cached under key, made by make() (outside the lock) the first time: both
// convolution paths cache their per-shape choice this way.
template <typename V, typename Make>
V cached(std::unordered_map<std::string, V>& cache, std::mutex& mu, const std::string& key, Make make) {
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  V v = make();
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, v).first->second;
}

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
