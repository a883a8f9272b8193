// Learning-rate schedulers (torch.optim.lr_scheduler semantics): constructing one records each
// group's initial_lr and applies the epoch-0 rate; step() advances one epoch (or iteration) and
// writes the new rate into every group. Rates are computed in closed form from the step count,
// so a scheduler restored from state_dict() continues exactly.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/optim/optimizer.h"

namespace deepseek::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  virtual nlohmann::json state_dict() const;
  virtual void load_state_dict(const nlohmann::json& state);

 protected:
  LRScheduler(Optimizer& optimizer, std::string type);
  // Call at the end of the derived constructor: applies the rate for epoch 0.
  void initialize();
  // The rate of group i at last_epoch_.
  virtual double lr_at(size_t group, int64_t epoch) const = 0;
  // Hook for schedulers that also drive momentum (OneCycleLR).
  virtual void after_lr(int64_t) {}

  Optimizer& optimizer_;
  std::string type_;
  int64_t last_epoch_ = -1;
  std::vector<double> base_lrs_, last_lr_;
};

// lr = base · gamma^⌊epoch / step_size⌋
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(size_t group, int64_t epoch) const override;
  int64_t step_size_;
  double gamma_;
};

// lr = base · gamma^(number of milestones ≤ epoch)
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  double lr_at(size_t group, int64_t epoch) const override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr = base · factor(epoch); one function for all groups.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> factor);

 protected:
  LambdaLR(Optimizer& optimizer, std::string type, std::function<double(int64_t)> factor);
  double lr_at(size_t group, int64_t epoch) const override;
  std::function<double(int64_t)> factor_;
};

// Linear warm-up from 0 to the base rate over warmup_steps, then constant:
// factor = step / warmup_steps while step < warmup_steps, else 1.
class LinearWarmup : public LambdaLR {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps);
};

// Linear warm-up over warmup_steps, then half a cosine down to min_lr_ratio · base at
// total_steps (the transformers get_cosine_schedule_with_warmup shape).
class CosineWithWarmup : public LambdaLR {
 public:
  CosineWithWarmup(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                   double min_lr_ratio = 0.0, double num_cycles = 0.5);
};

// eta_min + (base − eta_min)(1 + cos(π·epoch/T_max))/2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0.0);

 protected:
  double lr_at(size_t group, int64_t epoch) const override;
  int64_t t_max_;
  double eta_min_;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25.0, final_div_factor = 1e4;
  bool three_phase = false;
};

// torch.optim.lr_scheduler.OneCycleLR, stepped once per batch. Cycles "momentum" (SGD) or
// "beta1" (Adam) inversely to the rate when cycle_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps,
             OneCycleOptions options = {});
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps,
             OneCycleOptions options = {});

 protected:
  double lr_at(size_t group, int64_t epoch) const override;
  void after_lr(int64_t epoch) override;

 private:
  struct Phase {
    double end_step;
    std::string start_lr, end_lr;  // option names: initial_lr, max_lr, min_lr
    std::string start_m, end_m;    // max_momentum / base_momentum
  };
  double anneal(double start, double end, double pct) const;
  // (phase index, pct) for a step.
  std::pair<size_t, double> locate(int64_t step) const;
  int64_t total_steps_;
  OneCycleOptions options_;
  std::vector<Phase> phases_;
  std::string momentum_key_;
};

}  // namespace deepseek::optim
