// Adam and AdamW (decoupled weight decay), with optional AMSGrad (torch.optim.Adam / AdamW).
#pragma once

#include "deepseek/optim/optimizer.h"

namespace deepseek::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW: 1e-2 by default
  bool amsgrad = false;
  bool maximize = false;
  Options to_map(const char* type) const;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});

 protected:
  Adam(const char* type, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled);
  void update(ParamGroup& group) override;

 private:
  bool fused_update(ParamGroup& group);  // true when a fused kernel did the whole group
  ParamState& moments(const Tensor& p);
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions options = with_default_decay());
  AdamW(std::vector<ParamGroup> groups, AdamOptions options = with_default_decay());
  static AdamOptions with_default_decay() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
};

}  // namespace deepseek::optim
