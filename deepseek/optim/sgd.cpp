#include "deepseek/optim/sgd.h"

#include "deepseek/core/error.h"

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

}  // namespace deepseek::optim
