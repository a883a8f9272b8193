// GradScaler: dynamic loss scaling for f16 training (torch.amp.GradScaler). scale() multiplies
// the loss so small f16 gradients do not flush to zero; unscale_() divides the gradients back
// and records whether any is inf/nan; step() skips the optimizer step when one is; update()
// backs the scale off after an overflow and grows it after growth_interval clean steps.
#pragma once

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "deepseek/optim/optimizer.h"

namespace deepseek::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  Tensor scale(const Tensor& loss) const;
  // Divides the optimizer's gradients by the scale in place (once per step).
  void unscale_(Optimizer& optimizer);
  // Unscales if needed, then steps unless a gradient was inf/nan. Returns whether it stepped.
  bool step(Optimizer& optimizer);
  // Adjusts the scale from this iteration's overflow record, or sets new_scale when > 0.
  void update(double new_scale = 0.0);

  double get_scale() const { return options_.enabled ? scale_ : 1.0; }
  int64_t growth_tracker() const { return growth_tracker_; }
  bool is_enabled() const { return options_.enabled; }
  // Whether the last unscale_ of this optimizer found inf/nan.
  bool found_inf(const Optimizer& optimizer) const;

  nlohmann::json state_dict() const;
  void load_state_dict(const nlohmann::json& state);

 private:
  enum class Stage { ready, unscaled, stepped };
  struct PerOptimizer {
    Stage stage = Stage::ready;
    bool found_inf = false;
  };
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;
  std::unordered_map<const Optimizer*, PerOptimizer> per_opt_;
};

}  // namespace deepseek::optim
