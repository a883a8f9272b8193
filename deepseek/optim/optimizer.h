// Optimizers: parameter groups with per-group hyper-parameters, per-parameter state, and a
// state dict made of named tensors plus JSON (so io/ checkpoints can store it without knowing
// optimizers). Updates run under NoGradGuard with in-place ops, so parameters keep their
// identity (and any optimizer state keyed on it).
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "deepseek/ops/ops.h"

namespace deepseek::optim {

// Hyper-parameters by name ("lr", "momentum", "beta1", ...); booleans are 0 or 1.
using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;  // overrides of the optimizer's defaults; after construction, the full set
  ParamGroup(std::vector<Tensor> params, Options options = {})
      : params(std::move(params)), options(std::move(options)) {}
  double get(const std::string& key) const;
  bool flag(const std::string& key) const { return get(key) != 0.0; }
  double lr() const { return get("lr"); }
  void set_lr(double v) { options["lr"] = v; }
};

// State of one parameter: tensors (momentum buffers, moments) and scalars (step count).
struct ParamState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

// What state_dict() returns: tensors named "<param index>.<state name>" (indices count the
// parameters of all groups in order) and JSON:
//   {"type": "Adam", "param_groups": [{"params": [0, 1], "options": {"lr": 0.001, ...}}],
//    "state": {"0": {"step": 10}}}
struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every group. With a closure, runs it first (grad enabled) and returns its loss.
  Tensor step(const std::function<Tensor()>& closure = nullptr);
  void zero_grad(bool set_to_none = true);
  // New group; missing options come from the defaults. A parameter may be in one group only.
  void add_param_group(ParamGroup group);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }
  const std::string& type_name() const { return type_; }
  // The state of p (created empty on first use).
  ParamState& state(const Tensor& p) { return state_[p.impl()]; }
  const ParamState* find_state(const Tensor& p) const;

  OptimizerState state_dict() const;
  // Needs the same group structure (number of groups and of parameters in each).
  void load_state_dict(const OptimizerState& state);

 protected:
  Optimizer(std::string type, std::vector<ParamGroup> groups, Options defaults);
  // Updates the parameters of one group; runs under NoGradGuard.
  virtual void update(ParamGroup& group) = 0;
  // For a fused multi-tensor kernel: the group's parameters that have a gradient, and those
  // gradients in their parameter's layout (the kernels read both as flat arrays in one order).
  // False when one of them does not fit a kernel (another device than the first parameter's,
  // a dtype other than f32/f64, a layout other than dense or channels_last): the optimizer's
  // op-by-op path takes the group.
  static bool fusable(const ParamGroup& group, std::vector<Tensor>& params, std::vector<Tensor>& grads);

 private:
  std::string type_;
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

// A single group holding `params`.
std::vector<ParamGroup> single_group(std::vector<Tensor> params);

}  // namespace deepseek::optim
