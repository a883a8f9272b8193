#include "deepseek/optim/scheduler.h"

#include <algorithm>
#include <cmath>

#include "deepseek/core/error.h"

namespace deepseek::optim {

// ---- base ----

LRScheduler::LRScheduler(Optimizer& opt, std::string type)
    : optimizer_(opt), type_(std::move(type)) {
  for (auto& g : optimizer_.param_groups()) {
    g.options.emplace("initial_lr", g.lr());
    base_lrs_.push_back(g.get("initial_lr"));
  }
}

void LRScheduler::initialize() { step(); }

void LRScheduler::step() {
  ++last_epoch_;
  auto& groups = optimizer_.param_groups();
  last_lr_.assign(groups.size(), 0.0);
  for (size_t i = 0; i < groups.size(); ++i) {
    last_lr_[i] = lr_at(i, last_epoch_);
    groups[i].set_lr(last_lr_[i]);
  }
  after_lr(last_epoch_);
}

nlohmann::json LRScheduler::state_dict() const {
  return {
      {"type", type_}, {"last_epoch", last_epoch_}, {"base_lrs", base_lrs_}, {"last_lr", last_lr_}};
}

void LRScheduler::load_state_dict(const nlohmann::json& s) {
  DS_CHECK(s.is_object() && s.contains("last_epoch"), "[", type_,
           ".load_state_dict] state has no \"last_epoch\"");
  if (s.contains("type"))
    DS_CHECK(s["type"] == type_, "[", type_, ".load_state_dict] state is from a ",
             s["type"].get<std::string>());
  if (s.contains("base_lrs")) {
    auto b = s["base_lrs"].get<std::vector<double>>();
    DS_CHECK(b.size() == base_lrs_.size(), "[", type_, ".load_state_dict] state has ", b.size(),
             " groups, the optimizer has ", base_lrs_.size());
    base_lrs_ = b;
  }
  last_epoch_ = s["last_epoch"].get<int64_t>();
  if (s.contains("last_lr")) last_lr_ = s["last_lr"].get<std::vector<double>>();
}

// ---- StepLR, MultiStepLR ----

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt, "StepLR"), step_size_(step_size), gamma_(gamma) {
  DS_CHECK(step_size > 0, "[StepLR] step_size must be positive, got ", step_size);
  initialize();
}
double StepLR::lr_at(size_t i, int64_t e) const {
  return base_lrs_[i] * std::pow(gamma_, double(e / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> m, double gamma)
    : LRScheduler(opt, "MultiStepLR"), milestones_(std::move(m)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initialize();
}
double MultiStepLR::lr_at(size_t i, int64_t e) const {
  auto n = std::upper_bound(milestones_.begin(), milestones_.end(), e) - milestones_.begin();
  return base_lrs_[i] * std::pow(gamma_, double(n));
}

// ---- LambdaLR family ----

LambdaLR::LambdaLR(Optimizer& opt, std::function<double(int64_t)> f)
    : LambdaLR(opt, "LambdaLR", std::move(f)) {}
LambdaLR::LambdaLR(Optimizer& opt, std::string type, std::function<double(int64_t)> f)
    : LRScheduler(opt, std::move(type)), factor_(std::move(f)) {
  DS_CHECK(factor_ != nullptr, "[", type_, "] needs a factor function");
  initialize();
}
double LambdaLR::lr_at(size_t i, int64_t e) const { return base_lrs_[i] * factor_(e); }

LinearWarmup::LinearWarmup(Optimizer& opt, int64_t warmup)
    : LambdaLR(opt, "LinearWarmup", [warmup](int64_t s) {
        return s < warmup ? double(s) / double(std::max<int64_t>(1, warmup)) : 1.0;
      }) {
  DS_CHECK(warmup >= 0, "[LinearWarmup] warmup_steps must be >= 0, got ", warmup);
}

CosineWithWarmup::CosineWithWarmup(Optimizer& opt, int64_t warmup, int64_t total, double min_ratio,
                                   double cycles)
    : LambdaLR(opt, "CosineWithWarmup", [=](int64_t s) {
        if (s < warmup) return double(s) / double(std::max<int64_t>(1, warmup));
        double progress = double(s - warmup) / double(std::max<int64_t>(1, total - warmup));
        double c = std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress)));
        return min_ratio + (1.0 - min_ratio) * c;
      }) {
  DS_CHECK(warmup >= 0 && total > 0 && warmup <= total,
           "[CosineWithWarmup] need 0 <= warmup_steps <= total_steps, got ", warmup, " and ",
           total);
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler(opt, "CosineAnnealingLR"), t_max_(t_max), eta_min_(eta_min) {
  DS_CHECK(t_max > 0, "[CosineAnnealingLR] T_max must be positive, got ", t_max);
  initialize();
}
double CosineAnnealingLR::lr_at(size_t i, int64_t e) const {
  return eta_min_ +
         (base_lrs_[i] - eta_min_) * (1 + std::cos(M_PI * double(e) / double(t_max_))) / 2;
}

// ---- OneCycleLR ----

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total, OneCycleOptions o)
    : OneCycleLR(opt, std::vector<double>(opt.param_groups().size(), max_lr), total, o) {}

OneCycleLR::OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total,
                       OneCycleOptions o)
    : LRScheduler(opt, "OneCycleLR"), total_steps_(total), options_(o) {
  DS_CHECK(total > 0, "[OneCycleLR] total_steps must be positive, got ", total);
  DS_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "[OneCycleLR] pct_start must be in [0, 1], got ",
           o.pct_start);
  DS_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
           "[OneCycleLR] anneal_strategy must be 'cos' or 'linear', got '", o.anneal_strategy, "'");
  auto& groups = opt.param_groups();
  DS_CHECK(max_lrs.size() == groups.size(), "[OneCycleLR] got ", max_lrs.size(),
           " max_lr values for ", groups.size(), " groups");
  double p = o.pct_start * double(total);
  if (o.three_phase) {
    phases_ = {{p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {2 * p - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {double(total) - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {double(total) - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  if (o.cycle_momentum) {
    auto& d = opt.defaults();
    momentum_key_ = d.count("momentum") ? "momentum" : d.count("beta1") ? "beta1" : "";
    DS_CHECK(!momentum_key_.empty(), "[OneCycleLR] optimizer ", opt.type_name(),
             " has no momentum to cycle; pass cycle_momentum=false");
  }
  base_lrs_.clear();
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& g = groups[i];
    double initial = max_lrs[i] / o.div_factor;
    g.options["initial_lr"] = initial;
    g.options["max_lr"] = max_lrs[i];
    g.options["min_lr"] = initial / o.final_div_factor;
    base_lrs_.push_back(initial);
    if (!momentum_key_.empty()) g.options[momentum_key_] = o.max_momentum;
  }
  initialize();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == "cos")
    return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1);
  return (end - start) * pct + start;
}

std::pair<size_t, double> OneCycleLR::locate(int64_t step) const {
  DS_CHECK(step < total_steps_ + 1, "[OneCycleLR] tried to step ", step, " times with total_steps ",
           total_steps_);
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    double end = phases_[i].end_step;
    if (double(step) <= end || i + 1 == phases_.size())
      return {i, (double(step) - start) / (end - start)};
    start = end;
  }
  return {phases_.size() - 1, 1.0};
}

double OneCycleLR::lr_at(size_t i, int64_t e) const {
  auto [ph, pct] = locate(e);
  auto& g = optimizer_.param_groups()[i];
  return anneal(g.get(phases_[ph].start_lr), g.get(phases_[ph].end_lr), pct);
}

void OneCycleLR::after_lr(int64_t e) {
  if (momentum_key_.empty()) return;
  auto [ph, pct] = locate(e);
  auto m = [&](const std::string& k) {
    return k == "max_momentum" ? options_.max_momentum : options_.base_momentum;
  };
  double v = anneal(m(phases_[ph].start_m), m(phases_[ph].end_m), pct);
  for (auto& g : optimizer_.param_groups()) g.options[momentum_key_] = v;
}

}  // namespace deepseek::optim
