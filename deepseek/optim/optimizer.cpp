#include "deepseek/optim/optimizer.h"

#include <unordered_set>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/ops/fused.h"

namespace deepseek::optim {

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  DS_CHECK(it != options.end(), "[optim] parameter group has no option \"", key, "\"");
  return it->second;
}

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  return {ParamGroup(std::move(params))};
}

Optimizer::Optimizer(std::string type, std::vector<ParamGroup> groups, Options defaults)
    : type_(std::move(type)), defaults_(std::move(defaults)) {
  DS_CHECK(!groups.empty(), "[", type_, "] got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  DS_CHECK(!group.params.empty(), "[", type_, "] a parameter group must hold parameters");
  for (auto& [k, v] : group.options)
    DS_CHECK(defaults_.count(k) || k == "initial_lr" || k == "max_lr" || k == "min_lr", "[", type_,
             "] unknown option \"", k, "\" in a parameter group");
  for (auto& [k, v] : defaults_) group.options.emplace(k, v);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& g : groups_)
    for (auto& p : g.params) seen.insert(p.impl());
  for (auto& p : group.params) {
    DS_CHECK(p.defined(), "[", type_, "] parameter is undefined");
    DS_CHECK(is_floating(p.dtype()), "[", type_, "] can only optimize floating-point tensors, got ",
             dtype_name(p.dtype()));
    DS_CHECK(p.is_leaf(), "[", type_, "] can't optimize a non-leaf tensor");
    DS_CHECK(seen.insert(p.impl()).second, "[", type_,
             "] some parameters appear in more than one parameter group");
  }
  groups_.push_back(std::move(group));
}

const ParamState* Optimizer::find_state(const Tensor& p) const {
  auto it = state_.find(p.impl());
  return it == state_.end() ? nullptr : &it->second;
}

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  if (closure) {
    autograd::EnableGradGuard eg;
    loss = closure();
  }
  autograd::NoGradGuard ng;
  for (auto& g : groups_) update(g);
  return loss;
}

bool Optimizer::fusable(const ParamGroup& g, std::vector<Tensor>& params, std::vector<Tensor>& grads) {
  if (g.params.empty()) return false;
  const Device dev = g.params[0].device();
  for (auto& p : g.params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (p.device() != dev || (p.dtype() != DType::f32 && p.dtype() != DType::f64) || grad.dtype() != p.dtype() ||
        !(p.is_contiguous() || p.is_contiguous(MemoryFormat::channels_last)))
      return false;
    params.push_back(p);
    grads.push_back(same_flat_layout(p, grad) ? grad : contiguous(grad, suggest_memory_format(p)));
  }
  return true;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        autograd::NoGradGuard ng;
        grad.zero_();
      }
    }
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  out.meta["type"] = type_;
  out.meta["param_groups"] = nlohmann::json::array();
  out.meta["state"] = nlohmann::json::object();
  int64_t index = 0;
  for (auto& g : groups_) {
    nlohmann::json jg;
    jg["options"] = g.options;
    jg["params"] = nlohmann::json::array();
    for (auto& p : g.params) {
      jg["params"].push_back(index);
      if (auto* st = find_state(p)) {
        for (auto& [name, t] : st->tensors)
          out.tensors[std::to_string(index) + "." + name] = t.detach();
        out.meta["state"][std::to_string(index)] = st->scalars;
      }
      ++index;
    }
    out.meta["param_groups"].push_back(jg);
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& s) {
  const auto& m = s.meta;
  DS_CHECK(m.is_object() && m.contains("param_groups") && m["param_groups"].is_array(), "[", type_,
           ".load_state_dict] state has no \"param_groups\" list");
  if (m.contains("type"))
    DS_CHECK(m["type"] == type_, "[", type_, ".load_state_dict] state is from a ",
             m["type"].get<std::string>(), " optimizer");
  const auto& jgroups = m["param_groups"];
  DS_CHECK(jgroups.size() == groups_.size(), "[", type_, ".load_state_dict] state has ",
           jgroups.size(), " parameter groups, the optimizer has ", groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) {
    size_t n = jgroups[i].value("params", nlohmann::json::array()).size();
    DS_CHECK(n == groups_[i].params.size(), "[", type_, ".load_state_dict] group ", i, " has ", n,
             " parameters in the state, ", groups_[i].params.size(), " in the optimizer");
  }
  // Validate every tensor before changing anything.
  std::vector<Tensor> by_index;
  for (auto& g : groups_)
    for (auto& p : g.params) by_index.push_back(p);
  for (auto& [key, t] : s.tensors) {
    auto dot = key.find('.');
    DS_CHECK(dot != std::string::npos, "[", type_, ".load_state_dict] bad state key \"", key, "\"");
    size_t idx = std::stoul(key.substr(0, dot));
    DS_CHECK(idx < by_index.size(), "[", type_, ".load_state_dict] state key \"", key,
             "\" names parameter ", idx, " of ", by_index.size());
    DS_CHECK(t.defined() && t.sizes() == by_index[idx].sizes(), "[", type_,
             ".load_state_dict] state \"", key, "\" has shape ",
             t.defined() ? to_string(t.sizes()) : "<undefined>", ", parameter ", idx, " has ",
             to_string(by_index[idx].sizes()));
  }
  for (size_t i = 0; i < groups_.size(); ++i)
    for (auto& [k, v] : jgroups[i].at("options").items()) groups_[i].options[k] = v.get<double>();
  state_.clear();
  autograd::NoGradGuard ng;
  for (auto& [key, t] : s.tensors) {
    auto dot = key.find('.');
    const Tensor& p = by_index[std::stoul(key.substr(0, dot))];
    Tensor v = t.device() == p.device() ? t : to_device(t, p.device());
    if (is_floating(v.dtype()) && v.dtype() != p.dtype()) v = cast(v, p.dtype());
    state(p).tensors[key.substr(dot + 1)] = clone(v);  // own the memory (t may be a file map)
  }
  if (m.contains("state"))
    for (auto& [idx, scalars] : m["state"].items()) {
      size_t i = std::stoul(idx);
      DS_CHECK(i < by_index.size(), "[", type_, ".load_state_dict] state for parameter ", i, " of ",
               by_index.size());
      for (auto& [k, v] : scalars.items()) state(by_index[i]).scalars[k] = v.get<double>();
    }
}

}  // namespace deepseek::optim
