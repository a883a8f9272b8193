// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
#pragma once

#include <limits>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::optim {

// Scales all gradients together so their total norm is at most max_norm; returns the total
// norm before clipping (0-d f32). norm_type: p ≥ 1, or infinity for the max-abs norm.
// error_if_nonfinite: throw when the total norm is nan or inf (otherwise the gradients then
// hold nan/inf, as PyTorch).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace deepseek::optim
