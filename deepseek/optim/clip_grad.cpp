#include "deepseek/optim/clip_grad.h"

#include <cmath>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/ops/ops.h"

namespace deepseek::optim {

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  autograd::NoGradGuard ng;
  std::vector<Tensor> grads;
  for (auto& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return zeros({});
  bool inf_norm = std::isinf(norm_type);
  DS_CHECK(inf_norm || norm_type > 0, "[clip_grad_norm_] norm_type must be positive, got ",
           norm_type);
  // Per-gradient norms in f32 (f16 gradients accumulate in f32), then the norm of the norms.
  std::vector<Tensor> norms;
  for (auto& g : grads) {
    Tensor g32 = g.dtype() == DType::f64 ? g : cast(g, DType::f32);
    norms.push_back(inf_norm ? amax(abs(g32)) : norm(g32, norm_type));
  }
  Tensor all = stack(norms);
  Tensor total = inf_norm ? amax(all) : norm(all, norm_type);
  double t = total.item<double>();
  if (error_if_nonfinite)
    DS_CHECK(std::isfinite(t), "[clip_grad_norm_] the total norm of order ", norm_type,
             " of the gradients is non-finite (", t,
             "), so it cannot be clipped; pass "
             "error_if_nonfinite=false to clip anyway");
  double coef = max_norm / (t + 1e-6);
  if (coef < 1.0 || std::isnan(coef))
    for (auto& g : grads) {
      Tensor gm = g;
      gm.mul_(coef);
    }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  DS_CHECK(clip_value >= 0, "[clip_grad_value_] clip_value must be >= 0, got ", clip_value);
  autograd::NoGradGuard ng;
  for (auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    Tensor g = p.grad();
    g.copy_(clamp(g, Scalar(-clip_value), Scalar(clip_value)));
  }
}

}  // namespace deepseek::optim
