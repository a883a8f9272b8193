#include "deepseek/optim/adam.h"

#include <cmath>

#include "deepseek/core/error.h"
#include "deepseek/ops/fused.h"

namespace deepseek::optim {

Options AdamOptions::to_map(const char* type) const {
  DS_CHECK(lr >= 0, "[", type, "] invalid learning rate ", lr);
  DS_CHECK(eps >= 0, "[", type, "] invalid epsilon ", eps);
  DS_CHECK(beta1 >= 0 && beta1 < 1, "[", type, "] invalid beta1 ", beta1);
  DS_CHECK(beta2 >= 0 && beta2 < 1, "[", type, "] invalid beta2 ", beta2);
  DS_CHECK(weight_decay >= 0, "[", type, "] invalid weight_decay ", weight_decay);
  return {{"lr", lr},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"amsgrad", amsgrad ? 1.0 : 0.0},
          {"maximize", maximize ? 1.0 : 0.0}};
}

Adam::Adam(std::vector<Tensor> params, AdamOptions o)
    : Adam("Adam", single_group(std::move(params)), o, false) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o)
    : Adam("Adam", std::move(groups), o, false) {}
Adam::Adam(const char* type, std::vector<ParamGroup> groups, AdamOptions o, bool decoupled)
    : Optimizer(type, std::move(groups), o.to_map(type)), decoupled_(decoupled) {}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions o)
    : Adam("AdamW", single_group(std::move(params)), o, true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions o)
    : Adam("AdamW", std::move(groups), o, true) {}

// p's state, with zeroed first and second moments (in p's layout: a channels_last weight gets
// channels_last moments, so the fused update reads all of them as flat arrays) and step 0 the
// first time.
ParamState& Adam::moments(const Tensor& p) {
  ParamState& st = state(p);
  if (!st.tensors.count("exp_avg")) {
    st.scalars["step"] = 0;
    MemoryFormat f = suggest_memory_format(p);
    st.tensors["exp_avg"] = contiguous(zeros_like(p), f).detach();
    st.tensors["exp_avg_sq"] = contiguous(zeros_like(p), f).detach();
  }
  return st;
}

// As torch.optim.Adam's single-tensor path (foreach=False), op for op — lerp_ for the first
// moment, addcmul_ ((v·g)·g) for the second, addcdiv_ ((−step·m)/denom) for the update — so the
// trajectories agree with PyTorch's to rounding.
void Adam::update(ParamGroup& g) {
  const double lr = g.get("lr"), b1 = g.get("beta1"), b2 = g.get("beta2"), eps = g.get("eps"),
               wd = g.get("weight_decay");
  const bool amsgrad = g.flag("amsgrad"), maximize = g.flag("maximize");
  if (fused_update(g)) return;
  for (auto& p : g.params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (maximize) grad = neg(grad);
    ParamState& st = moments(p);
    if (amsgrad && !st.tensors.count("max_exp_avg_sq"))
      st.tensors["max_exp_avg_sq"] = zeros_like(p).detach();
    Tensor& exp_avg = st.tensors["exp_avg"];
    Tensor& exp_avg_sq = st.tensors["exp_avg_sq"];
    double step = (st.scalars["step"] += 1);

    if (wd != 0) {
      if (decoupled_)
        p.mul_(1 - lr * wd);
      else
        grad = add(grad, p, wd);
    }
    exp_avg.add_(sub(grad, exp_avg), 1 - b1);                // lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(b2).add_(mul(mul(grad, 1 - b2), grad));  // addcmul_(grad, grad, 1 - beta2)
    double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
    double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
    Tensor denom;
    if (amsgrad) {
      Tensor& mx = st.tensors["max_exp_avg_sq"];
      mx.copy_(maximum(mx, exp_avg_sq));
      denom = add(div(sqrt(mx), bc2_sqrt), eps);
    } else {
      denom = add(div(sqrt(exp_avg_sq), bc2_sqrt), eps);
    }
    p.add_(div(mul(exp_avg, -step_size), denom));  // addcdiv_(exp_avg, denom, -step_size)
  }
}

// On a device with a fused kernel (CUDA), f32/f64 groups without amsgrad update every
// parameter in a few launches. Same formulas, so results agree with the path above to rounding.
bool Adam::fused_update(ParamGroup& g) {
  if (g.flag("amsgrad") || g.params.empty() || !has_fused_adam(g.params[0].device())) return false;
  std::vector<Tensor> ps, grads, ms, vs;
  std::vector<double> steps;
  if (!fusable(g, ps, grads)) return false;
  for (auto& p : ps) {  // a layout changed after the moments were made: the op-by-op path takes it
    ParamState& st = moments(p);
    if (!same_flat_layout(p, st.tensors["exp_avg"]) || !same_flat_layout(p, st.tensors["exp_avg_sq"])) return false;
  }
  for (auto& p : ps) {
    ParamState& st = moments(p);
    ms.push_back(st.tensors["exp_avg"]);
    vs.push_back(st.tensors["exp_avg_sq"]);
    steps.push_back(st.scalars["step"] += 1);
  }
  fused_adam_(ps, grads, ms, vs, steps,
              {g.get("lr"), g.get("beta1"), g.get("beta2"), g.get("eps"), g.get("weight_decay"), decoupled_,
               g.flag("maximize")});
  return true;
}

}  // namespace deepseek::optim
