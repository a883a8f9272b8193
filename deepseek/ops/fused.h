// Fused multi-tensor updates, as PyTorch's _fused_adamw_ and _fused_sgd_: one op updates many parameters and
// their optimizer state in place, so a GPU step costs a few launches instead of a dozen per
// parameter. Optimizers use them where a kernel exists (CUDA) and their op-by-op path elsewhere.
#pragma once

#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek {

struct AdamStepArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr * wd; Adam: grad += wd * p
  bool maximize;
};

// For each i: the Adam/AdamW update of params[i] with grads[i], exp_avgs[i], exp_avg_sqs[i]
// (all written in place) at step steps[i] (1-based, for the bias corrections).
void fused_adam_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<double>& steps, const AdamStepArgs& args);
bool has_fused_adam(Device device);

struct SgdStepArgs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

// For each i: the SGD update of params[i] with grads[i] (torch.optim.SGD). With a momentum,
// momentum_buffers[i] is updated in place, and set to the gradient where first[i] is true
// (the parameter's first step); without one, momentum_buffers is empty.
void fused_sgd_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buffers, const std::vector<int64_t>& first,
                const SgdStepArgs& args);
bool has_fused_sgd(Device device);

// t can be updated with p as flat arrays: one shape, both dense (row-major or channels_last),
// with equal strides wherever a dim has more than one element.
inline bool same_flat_layout(const Tensor& p, const Tensor& t) {
  if (t.sizes() != p.sizes() || !(p.is_contiguous() || p.is_contiguous(MemoryFormat::channels_last))) return false;
  for (int64_t d = 0; d < p.dim(); ++d)
    if (p.sizes()[d] > 1 && p.strides()[d] != t.strides()[d]) return false;
  return true;
}

}  // namespace deepseek
