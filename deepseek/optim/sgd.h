// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD).
#pragma once

#include "deepseek/optim/optimizer.h"

namespace deepseek::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  Options to_map() const;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});

 protected:
  void update(ParamGroup& group) override;

 private:
  bool fused_update(ParamGroup& group);  // false: the op-by-op path runs
};

}  // namespace deepseek::optim
