// batch_norm forward and fused backward kernels for channels_last (N, H, W, C) inputs
// (bn_channels_last.cu); norm.cu and bn_backward.cu route such inputs here.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "deepseek/core/tensor.h"
#include "deepseek/ops/attrs.h"

namespace deepseek::cuda {

// t is channels_last and not also row-major (the layout these kernels are for).
bool is_nhwc(const Tensor& t);
// Same inputs and outputs as the batch_norm op; x and y channels_last.
void batch_norm_nhwc(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a);
// Same inputs and outputs as batch_norm_backward; g, x and dx channels_last.
void batch_norm_backward_nhwc(const std::vector<Tensor>& in, std::vector<Tensor>& out);

// Per channel from the partial sums S1 = sum(g), S2 = sum(g (x - mean)) (split k of channel c
// at p[c * cs + k * ks], added in split order): dw = rstd S2, db = S1 and the dx coefficients
// coef[0..2][C] = (w rstd, -w rstd^2 rstd S2 / n, -w rstd S1 / n). Shared by both layouts.
void bn_backward_finish(DType t, const void* p1, const void* p2, int splits, int64_t cs, int64_t ks, const void* w,
                        const void* rstd, int64_t n, int64_t C, void* dw, void* db, void* coef, cudaStream_t stream);

}  // namespace deepseek::cuda
