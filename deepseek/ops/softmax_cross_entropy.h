// The fused cross-entropy op over 2-D logits (ops/defs/softmax_cross_entropy.cpp), for
// cross_entropy on devices that have its kernel.
#pragma once

#include "deepseek/core/tensor.h"

namespace deepseek {

// True when `device` has a softmax_cross_entropy kernel (CUDA).
bool has_softmax_cross_entropy(Device device);
// Per-row losses of logits (N, C) against class indices (N): lse_i - x_i[t_i], 0 where t_i is
// ignore_index; in f32 (f64 for f64 logits). Targets out of [0, C) raise an Error naming
// cross_entropy.
Tensor softmax_cross_entropy_rows(const Tensor& logits, const Tensor& target, int64_t ignore_index);

}  // namespace deepseek
