#include "deepseek/optim/grad_scaler.h"

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"

namespace deepseek::optim {

GradScaler::GradScaler(GradScalerOptions o) : options_(o), scale_(o.init_scale) {
  DS_CHECK(o.init_scale > 0, "[GradScaler] init_scale must be positive, got ", o.init_scale);
  DS_CHECK(o.growth_factor > 1.0, "[GradScaler] growth_factor must be > 1, got ", o.growth_factor);
  DS_CHECK(o.backoff_factor > 0 && o.backoff_factor < 1.0,
           "[GradScaler] backoff_factor must be in (0, 1), got ", o.backoff_factor);
  DS_CHECK(o.growth_interval > 0, "[GradScaler] growth_interval must be positive");
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!options_.enabled) return loss;
  // The loss is scaled in f32 at least, so a large scale does not overflow an f16 loss.
  Tensor l =
      loss.dtype() == DType::f16 || loss.dtype() == DType::bf16 ? cast(loss, DType::f32) : loss;
  return mul(l, scale_);
}

void GradScaler::unscale_(Optimizer& opt) {
  if (!options_.enabled) return;
  auto& st = per_opt_[&opt];
  DS_CHECK(st.stage == Stage::ready,
           "[GradScaler.unscale_] unscale_() has already been called "
           "on this optimizer since the last update()");
  autograd::NoGradGuard ng;
  double inv = 1.0 / scale_;
  bool found = false;
  for (auto& g : opt.param_groups())
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      // x·0 is nan exactly when x is inf or nan.
      if (!found) found = any(ne(mul(grad, 0.0), 0.0)).item<bool>();
      grad.mul_(inv);
    }
  st.found_inf = found;
  st.stage = Stage::unscaled;
}

bool GradScaler::step(Optimizer& opt) {
  if (!options_.enabled) {
    opt.step();
    return true;
  }
  auto& st = per_opt_[&opt];
  DS_CHECK(st.stage != Stage::stepped,
           "[GradScaler.step] step() has already been called since "
           "the last update()");
  if (st.stage == Stage::ready) unscale_(opt);
  bool ok = !per_opt_[&opt].found_inf;
  if (ok) opt.step();
  per_opt_[&opt].stage = Stage::stepped;
  return ok;
}

bool GradScaler::found_inf(const Optimizer& opt) const {
  auto it = per_opt_.find(&opt);
  return it != per_opt_.end() && it->second.found_inf;
}

void GradScaler::update(double new_scale) {
  if (!options_.enabled) return;
  if (new_scale > 0) {
    scale_ = new_scale;
  } else {
    bool any_inf = false, any_recorded = false;
    for (auto& [o, st] : per_opt_)
      if (st.stage != Stage::ready) {
        any_recorded = true;
        any_inf |= st.found_inf;
      }
    DS_CHECK(any_recorded,
             "[GradScaler.update] no inf checks were recorded prior to update(); "
             "call unscale_() or step() first");
    if (any_inf) {
      scale_ *= options_.backoff_factor;
      growth_tracker_ = 0;
    } else if (++growth_tracker_ == options_.growth_interval) {
      scale_ *= options_.growth_factor;
      growth_tracker_ = 0;
    }
  }
  per_opt_.clear();
}

nlohmann::json GradScaler::state_dict() const {
  if (!options_.enabled) return nlohmann::json::object();
  return {{"scale", scale_},
          {"growth_factor", options_.growth_factor},
          {"backoff_factor", options_.backoff_factor},
          {"growth_interval", options_.growth_interval},
          {"_growth_tracker", growth_tracker_}};
}

void GradScaler::load_state_dict(const nlohmann::json& s) {
  if (!options_.enabled) return;
  DS_CHECK(s.is_object() && s.contains("scale"),
           "[GradScaler.load_state_dict] the state holds "
           "no \"scale\" (was it saved from a disabled scaler?)");
  scale_ = s["scale"].get<double>();
  options_.growth_factor = s.value("growth_factor", options_.growth_factor);
  options_.backoff_factor = s.value("backoff_factor", options_.backoff_factor);
  options_.growth_interval = s.value("growth_interval", options_.growth_interval);
  growth_tracker_ = s.value("_growth_tracker", int64_t{0});
}

}  // namespace deepseek::optim
