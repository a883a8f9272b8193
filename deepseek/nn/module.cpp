#include "deepseek/nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "deepseek/autograd/function.h"
#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/ir/scope.h"

namespace deepseek::nn {

namespace detail {
std::string bool_str(bool b) { return b ? "True" : "False"; }
std::string tuple_str(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}
}  // namespace detail

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Tensor Module::first(const std::vector<Tensor>& outs) {
  DS_CHECK(!outs.empty(), "[Module] forward returned no outputs");
  return outs[0];
}

std::vector<Tensor> Module::forward_list(const std::vector<Tensor>& inputs) {
  DS_CHECK(inputs.size() == 1, "[", type_name_, "] forward takes 1 input, got ", inputs.size());
  return {forward(inputs[0])};
}

Tensor Module::forward(const Tensor&) {
  DS_THROW("[", type_name_, "] forward is not implemented for one tensor input");
}

// ---- registration ----

void Module::check_new_name(const std::string& name, const char* what) const {
  DS_CHECK(!name.empty(), "[", type_name_, "] ", what, " name must not be empty");
  DS_CHECK(name.find('.') == std::string::npos, "[", type_name_, "] ", what, " name \"", name,
           "\" must not contain '.'");
  auto taken = [&](auto& v) {
    return std::any_of(v.begin(), v.end(), [&](auto& s) { return s.name == name; });
  };
  bool child =
      std::any_of(children_.begin(), children_.end(), [&](auto& c) { return c.first == name; });
  DS_CHECK(!taken(params_) && !taken(buffers_) && !child, "[", type_name_, "] ", what, " \"", name,
           "\" is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name, "parameter");
  owned_.push_back(value.defined() ? value.detach().requires_grad_(requires_grad) : Tensor());
  params_.push_back({name, &owned_.back(), true});
  return owned_.back();
}

Tensor& Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_new_name(name, "buffer");
  owned_.push_back(value.defined() ? value.detach() : Tensor());
  buffers_.push_back({name, &owned_.back(), persistent});
  return owned_.back();
}

void Module::bind_parameter(const std::string& name, Tensor& member, bool requires_grad) {
  check_new_name(name, "parameter");
  if (member.defined()) member = member.detach().requires_grad_(requires_grad);
  params_.push_back({name, &member, true});
}

void Module::bind_buffer(const std::string& name, Tensor& member, bool persistent) {
  check_new_name(name, "buffer");
  buffers_.push_back({name, &member, persistent});
}

void Module::register_module_impl(const std::string& name, ModulePtr module) {
  check_new_name(name, "submodule");
  DS_CHECK(module != nullptr, "[", type_name_, "] submodule \"", name, "\" is null");
  DS_CHECK(module.get() != this, "[", type_name_, "] a module cannot contain itself");
  module->scope_name_ = name;
  children_.emplace_back(name, std::move(module));
}

void Module::replace_module(const std::string& name, ModulePtr module) {
  DS_CHECK(module != nullptr, "[", type_name_, "] replacement for \"", name, "\" is null");
  for (auto& c : children_)
    if (c.first == name) {
      module->scope_name_ = name;
      c.second = std::move(module);
      return;
    }
  DS_THROW("[", type_name_, "] has no submodule \"", name, "\"");
}

// ---- introspection ----

void Module::collect_slots(const std::string& prefix, bool params, bool persistent_only,
                           std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& s : params ? params_ : buffers_)
    if (s.tensor->defined() && (!persistent_only || s.persistent))
      out.emplace_back(prefix + s.name, s.tensor);
  for (auto& [name, child] : children_)
    child->collect_slots(prefix + name + ".", params, persistent_only, out);
}

std::vector<std::pair<std::string, Tensor*>> Module::parameter_slots(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_slots(prefix, true, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffer_slots(const std::string& prefix,
                                                                  bool persistent_only) {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_slots(prefix, false, persistent_only, out);
  return out;
}

namespace {
NamedTensors dedup(const std::vector<std::pair<std::string, Tensor*>>& slots) {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  for (auto& [name, t] : slots)
    if (seen.insert(t->impl()).second) out.emplace_back(name, *t);
  return out;
}
}  // namespace

NamedTensors Module::named_parameters(bool recurse) const {
  auto* self = const_cast<Module*>(this);
  if (recurse) return dedup(self->parameter_slots());
  std::vector<std::pair<std::string, Tensor*>> own;
  for (auto& s : params_)
    if (s.tensor->defined()) own.emplace_back(s.name, s.tensor);
  return dedup(own);
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  auto* self = const_cast<Module*>(this);
  if (recurse) return dedup(self->buffer_slots());
  std::vector<std::pair<std::string, Tensor*>> own;
  for (auto& s : buffers_)
    if (s.tensor->defined()) own.emplace_back(s.name, s.tensor);
  return dedup(own);
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_children() const { return children_; }

std::vector<ModulePtr> Module::children() const {
  std::vector<ModulePtr> out;
  for (auto& c : children_) out.push_back(c.second);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() {
  std::vector<std::pair<std::string, ModulePtr>> out;
  std::unordered_set<const Module*> seen;
  std::function<void(const std::string&, Module&, ModulePtr)> walk = [&](const std::string& prefix,
                                                                         Module& m, ModulePtr ptr) {
    if (!seen.insert(&m).second) return;
    out.emplace_back(prefix, ptr);
    for (auto& [name, c] : m.children_) walk(prefix.empty() ? name : prefix + "." + name, *c, c);
  };
  ModulePtr self = weak_from_this().lock();  // null when the module is not in a shared_ptr
  walk("", *this, self);
  return out;
}

std::vector<ModulePtr> Module::modules() {
  std::vector<ModulePtr> out;
  for (auto& [n, m] : named_modules()) out.push_back(m);
  return out;
}

int64_t Module::num_parameters(bool only_trainable) const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters())
    if (!only_trainable || p.requires_grad()) n += p.numel();
  return n;
}

Tensor& Module::tensor_at(const std::string& path) {
  for (auto& [name, t] : parameter_slots())
    if (name == path) return *t;
  for (auto& [name, t] : buffer_slots())
    if (name == path) return *t;
  DS_THROW("[", type_name_, "] has no parameter or buffer \"", path, "\"");
}

ModulePtr Module::submodule(const std::string& path) {
  for (auto& [name, m] : named_modules())
    if (name == path && !path.empty()) return m;
  DS_THROW("[", type_name_, "] has no submodule \"", path, "\"");
}

bool Module::has_parameter(const std::string& name) const {
  for (auto& [n, t] : named_parameters())
    if (n == name) return true;
  return false;
}

// ---- modes and conversion ----

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
  return *this;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, c] : children_) c->apply(fn);
  fn(*this);
  return *this;
}

void Module::convert(const std::function<Tensor(const Tensor&)>& fn) {
  autograd::NoGradGuard ng;
  std::unordered_set<const TensorImpl*> done;
  auto slots = parameter_slots();
  for (auto& s : buffer_slots()) slots.push_back(s);
  for (auto& [name, slot] : slots) {
    Tensor& t = *slot;
    if (!done.insert(t.impl()).second) continue;
    Tensor n = fn(t.detach());
    if (n.is_same(t) || (n.storage() == t.storage() && n.dtype() == t.dtype())) continue;
    // In place, as PyTorch's `param.data = fn(param)`: optimizers and tied modules keep
    // referring to the same tensor.
    TensorImpl* impl = t.impl();
    impl->storage = n.storage();
    impl->sizes = n.sizes();
    impl->strides = n.strides();
    impl->offset = n.offset();
    impl->dtype = n.dtype();
    Tensor g = t.grad();
    if (g.defined()) t.set_grad(fn(g));
  }
}

Module& Module::to(Device device) {
  convert([&](const Tensor& t) { return t.device() == device ? t : to_device(t, device); });
  return *this;
}

Module& Module::to(DType dtype) {
  convert([&](const Tensor& t) {
    return is_floating(t.dtype()) && t.dtype() != dtype ? cast(t, dtype) : t;
  });
  return *this;
}

Module& Module::to(Device device, DType dtype) {
  convert([&](const Tensor& t) {
    Tensor r = t.device() == device ? t : to_device(t, device);
    return is_floating(r.dtype()) && r.dtype() != dtype ? cast(r, dtype) : r;
  });
  return *this;
}

Module& Module::to(MemoryFormat format) {
  convert([&](const Tensor& t) { return t.dim() == 4 ? contiguous(t, format) : t; });
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  for (auto& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      autograd::NoGradGuard ng;
      g.zero_();
    }
  }
}

Module& Module::requires_grad_(bool on) {
  for (auto& p : parameters()) p.requires_grad_(on);
  return *this;
}

// ---- state ----

StateDict Module::state_dict() const {
  auto* self = const_cast<Module*>(this);
  StateDict out;
  for (auto& [name, t] : self->parameter_slots()) out[name] = t->detach();
  for (auto& [name, t] : self->buffer_slots("", true)) out[name] = t->detach();
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  auto slots = parameter_slots();
  for (auto& s : buffer_slots("", true)) slots.push_back(s);
  LoadResult r;
  std::vector<std::string> mismatches;
  std::set<std::string> known;
  for (auto& [name, slot] : slots) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      r.missing_keys.push_back(name);
      continue;
    }
    if (!it->second.defined() || it->second.sizes() != slot->sizes())
      mismatches.push_back(name + ": copying a tensor with shape " +
                           (it->second.defined() ? to_string(it->second.sizes()) : "<undefined>") +
                           " from the state dict, the shape in the current model is " +
                           to_string(slot->sizes()));
  }
  for (auto& [name, t] : state)
    if (!known.count(name)) r.unexpected_keys.push_back(name);
  bool fail =
      !mismatches.empty() || (strict && (!r.missing_keys.empty() || !r.unexpected_keys.empty()));
  if (fail) {
    std::ostringstream os;
    os << "[Module.load_state_dict] error(s) in loading state_dict for " << type_name_ << ":";
    auto list = [&](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      os << "\n  " << what << ": ";
      for (size_t i = 0; i < keys.size(); ++i) os << (i ? ", " : "") << '"' << keys[i] << '"';
    };
    if (strict) {
      list("missing key(s)", r.missing_keys);
      list("unexpected key(s)", r.unexpected_keys);
    }
    for (auto& m : mismatches) os << "\n  size mismatch for " << m;
    throw Error(os.str());
  }
  autograd::NoGradGuard ng;
  for (auto& [name, slot] : slots) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    Tensor src = it->second;
    if (src.is_same(*slot)) continue;
    if (src.device() != slot->device()) src = to_device(src, slot->device());
    slot->copy_(src);
  }
  return r;
}

// ---- hooks ----

HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  uint64_t id = next_hook_id_++;
  pre_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(
      [this, id] { std::erase_if(pre_hooks_, [id](auto& h) { return h.first == id; }); });
}

HookHandle Module::register_forward_hook(ForwardHook hook) {
  uint64_t id = next_hook_id_++;
  fwd_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(
      [this, id] { std::erase_if(fwd_hooks_, [id](auto& h) { return h.first == id; }); });
}

HookHandle Module::register_full_backward_hook(BackwardHook hook) {
  uint64_t id = next_hook_id_++;
  bwd_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(
      [this, id] { std::erase_if(bwd_hooks_, [id](auto& h) { return h.first == id; }); });
}

std::vector<Tensor> Module::call(const std::vector<Tensor>& inputs) {
  // The tracer stamps recorded nodes with the module path (DESIGN §5).
  ir::ScopeGuard scope(scope_name_);
  std::vector<Tensor> in = inputs;
  for (size_t i = 0; i < pre_hooks_.size(); ++i)
    if (auto r = pre_hooks_[i].second(*this, in)) in = std::move(*r);
  std::vector<Tensor> out = bwd_hooks_.empty() || !autograd::GradMode::enabled()
                                ? forward_list(in)
                                : run_with_backward_hooks(in);
  for (size_t i = 0; i < fwd_hooks_.size(); ++i)
    if (auto r = fwd_hooks_[i].second(*this, in, out)) out = std::move(*r);
  return out;
}

// Full backward hooks, as PyTorch's BackwardHook: identity functions wrap the inputs and the
// outputs. The outputs' node sees grad_output first; the inputs' node then sees grad_input and
// calls the hooks with both. When no input requires grad the hooks fire at the outputs' node
// with undefined grad_input.
std::vector<Tensor> Module::run_with_backward_hooks(const std::vector<Tensor>& inputs) {
  struct State {
    std::vector<Tensor> grad_output;
  };
  auto state = std::make_shared<State>();
  auto identity = [](autograd::Context&, const std::vector<Tensor>& in) { return in; };
  ModulePtr keep = weak_from_this().lock();  // keeps the module alive until backward runs
  Module* self = this;
  auto fire = [self, keep](std::vector<Tensor> gin, const std::vector<Tensor>& gout) {
    for (auto& [id, hook] : self->bwd_hooks_)
      if (auto r = hook(*self, gin, gout)) {
        DS_CHECK(r->size() == gin.size(), "[", self->type_name_, "] backward hook returned ",
                 r->size(), " gradients for ", gin.size(), " inputs");
        gin = std::move(*r);
      }
    return gin;
  };

  std::vector<size_t> idx;
  std::vector<Tensor> req;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      idx.push_back(i);
      req.push_back(inputs[i]);
    }
  std::vector<Tensor> in = inputs;
  if (!req.empty()) {
    size_t n = inputs.size();
    auto wrapped = autograd::apply_function(
        "BackwardHookFunction", req, identity,
        [state, fire, idx, n](autograd::Context&, const std::vector<Tensor>& g) {
          std::vector<Tensor> gin(n);
          for (size_t k = 0; k < idx.size(); ++k) gin[idx[k]] = g[k];
          gin = fire(std::move(gin), state->grad_output);
          std::vector<Tensor> r;
          for (size_t k = 0; k < idx.size(); ++k) r.push_back(gin[idx[k]]);
          return r;
        });
    for (size_t k = 0; k < idx.size(); ++k) in[idx[k]] = wrapped[k];
  }

  std::vector<Tensor> out = forward_list(in);
  std::vector<size_t> oidx;
  std::vector<Tensor> oreq;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].defined() && out[i].requires_grad()) {
      oidx.push_back(i);
      oreq.push_back(out[i]);
    }
  if (oreq.empty()) return out;
  size_t nout = out.size(), nin = inputs.size();
  bool inputs_need_grad = !req.empty();
  auto wrapped = autograd::apply_function("BackwardHookFunction", oreq, identity,
                                          [state, fire, oidx, nout, nin, inputs_need_grad](
                                              autograd::Context&, const std::vector<Tensor>& g) {
                                            state->grad_output.assign(nout, Tensor());
                                            for (size_t k = 0; k < oidx.size(); ++k)
                                              state->grad_output[oidx[k]] = g[k];
                                            if (!inputs_need_grad)
                                              fire(std::vector<Tensor>(nin), state->grad_output);
                                            return g;
                                          });
  for (size_t k = 0; k < oidx.size(); ++k) out[oidx[k]] = wrapped[k];
  return out;
}

// ---- printing ----

void Module::repr_into(std::string& out, int indent) const {
  out += type_name_ + "(" + extra_repr();
  if (!children_.empty()) {
    out += "\n";
    for (auto& [name, c] : children_) {
      out += std::string(indent + 2, ' ') + "(" + name + "): ";
      c->repr_into(out, indent + 2);
      out += "\n";
    }
    out += std::string(indent, ' ');
  }
  out += ")";
}

std::string Module::repr() const {
  std::string s;
  repr_into(s, 0);
  return s;
}

// ---- functional_call ----

std::vector<Tensor> functional_call(Module& module, const StateDict& replacements,
                                    const std::vector<Tensor>& inputs, bool strict) {
  auto slots = module.parameter_slots();
  for (auto& s : module.buffer_slots()) slots.push_back(s);
  std::unordered_map<const TensorImpl*, Tensor> by_impl;
  std::set<std::string> known;
  for (auto& [name, slot] : slots) {
    known.insert(name);
    auto it = replacements.find(name);
    if (it != replacements.end()) {
      DS_CHECK(it->second.defined(), "[functional_call] replacement for \"", name,
               "\" is undefined");
      by_impl.emplace(slot->impl(), it->second);
    }
  }
  std::vector<std::string> unexpected, missing;
  for (auto& [name, t] : replacements)
    if (!known.count(name)) unexpected.push_back(name);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "\"" : ", \"") + x + "\"";
    return s;
  };
  DS_CHECK(unexpected.empty(), "[functional_call] unexpected key(s) for ", module.type_name(), ": ",
           join(unexpected));

  // Swap: explicit replacements first, then paths tied to a replaced tensor.
  std::vector<std::pair<Tensor*, Tensor>> saved;
  struct Restore {
    std::vector<std::pair<Tensor*, Tensor>>& saved;
    ~Restore() {
      for (auto it = saved.rbegin(); it != saved.rend(); ++it) *it->first = it->second;
    }
  } restore{saved};
  std::vector<std::pair<Tensor*, Tensor>> plan;
  for (auto& [name, slot] : slots) {
    auto it = replacements.find(name);
    if (it != replacements.end()) {
      plan.emplace_back(slot, it->second);
    } else if (auto t = by_impl.find(slot->impl()); t != by_impl.end()) {
      plan.emplace_back(slot, t->second);
    } else {
      missing.push_back(name);
    }
  }
  DS_CHECK(!strict || missing.empty(), "[functional_call] missing key(s) for ", module.type_name(),
           ": ", join(missing));
  for (auto& [slot, value] : plan) {
    saved.emplace_back(slot, *slot);
    *slot = value;
  }
  return module.call(inputs);
}

}  // namespace deepseek::nn
