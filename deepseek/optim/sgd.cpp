#include "deepseek/optim/sgd.h"

#include "deepseek/core/error.h"
#include "deepseek/ops/fused.h"

namespace deepseek::optim {

Options SGDOptions::to_map() const {
  DS_CHECK(lr >= 0, "[SGD] invalid learning rate ", lr);
  DS_CHECK(momentum >= 0, "[SGD] invalid momentum ", momentum);
  DS_CHECK(weight_decay >= 0, "[SGD] invalid weight_decay ", weight_decay);
  DS_CHECK(!nesterov || (momentum > 0 && dampening == 0),
           "[SGD] Nesterov momentum requires a momentum and zero dampening");
  return {{"lr", lr},
          {"momentum", momentum},
          {"dampening", dampening},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0},
          {"maximize", maximize ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<Tensor> params, SGDOptions o)
    : Optimizer("SGD", single_group(std::move(params)), o.to_map()) {}
SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer("SGD", std::move(groups), o.to_map()) {}

// As torch.optim.SGD's single-tensor path, op for op, so trajectories agree to rounding.
void SGD::update(ParamGroup& g) {
  const double lr = g.get("lr"), momentum = g.get("momentum"), dampening = g.get("dampening"),
               wd = g.get("weight_decay");
  const bool nesterov = g.flag("nesterov"), maximize = g.flag("maximize");
  DS_CHECK(!nesterov || (momentum > 0 && dampening == 0),
           "[SGD] Nesterov momentum requires a momentum and zero dampening");
  if (fused_update(g)) return;
  for (auto& p : g.params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (maximize) grad = neg(grad);
    if (wd != 0) grad = add(grad, p, wd);
    if (momentum != 0) {
      ParamState& st = state(p);
      auto it = st.tensors.find("momentum_buffer");
      Tensor buf;
      if (it == st.tensors.end()) {
        buf = clone(grad, suggest_memory_format(grad)).detach();  // in grad's layout (channels_last)
        st.tensors["momentum_buffer"] = buf;
      } else {
        buf = it->second;
        buf.mul_(momentum).add_(grad, 1 - dampening);
      }
      grad = nesterov ? add(grad, buf, momentum) : buf;
    }
    p.add_(grad, -lr);
  }
}

// On a device with a fused kernel (CUDA), a group of dense f32/f64 parameters is updated in a
// few launches (PyTorch's foreach/fused paths) instead of five per parameter. Same formulas,
// so results agree with the path above to rounding.
bool SGD::fused_update(ParamGroup& g) {
  if (g.params.empty() || !has_fused_sgd(g.params[0].device())) return false;
  const double momentum = g.get("momentum");
  std::vector<Tensor> ps, grads, bufs;
  std::vector<int64_t> first;
  if (!fusable(g, ps, grads)) return false;
  if (momentum != 0) {
    for (auto& p : ps) {  // a buffer in another layout than its parameter: the op-by-op path takes it
      auto& t = state(p).tensors;
      auto it = t.find("momentum_buffer");
      if (it != t.end() && !same_flat_layout(p, it->second)) return false;
    }
    for (auto& p : ps) {
      auto& t = state(p).tensors;
      auto it = t.find("momentum_buffer");
      first.push_back(it == t.end());
      if (it == t.end())  // written with the gradient by the kernel
        it = t.emplace("momentum_buffer", contiguous(empty_like(p), suggest_memory_format(p)).detach()).first;
      bufs.push_back(it->second);
    }
  }
  fused_sgd_(ps, grads, bufs, first,
             {g.get("lr"), momentum, g.get("dampening"), g.get("weight_decay"), g.flag("nesterov"),
              g.flag("maximize")});
  return true;
}

}  // namespace deepseek::optim
