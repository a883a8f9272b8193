// nn::Module: the base of every layer and model. A module owns named parameters, buffers and
// submodules, reports them recursively under dotted paths ("encoder.layers.0.linear1.weight"),
// saves and loads them as a state dict, converts them between devices and dtypes, and runs
// forward hooks, full-backward hooks and functional_call (run with substituted parameters) —
// the machinery per-sample gradients, pruning and checkpoints build on. Modules live in
// shared_ptrs (`auto fc = std::make_shared<nn::Linear>(784, 10); Tensor y = (*fc)(x);`).
//
// Parameters are registered either as owned slots (register_parameter) or, in layers, by
// binding a member tensor (bind_parameter): the registry then refers to the member itself, so
// assigning to it — weight tying (`head->weight = embed->weight`), to(), functional_call — is
// seen both through the member and through named_parameters().
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepseek/ops/ops.h"

namespace deepseek::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
// Named tensors: what state_dict() returns and load_state_dict() takes (same as io::TensorMap).
using StateDict = std::map<std::string, Tensor>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Hook signatures. A pre-hook may return replacement inputs; a forward hook replacement
// outputs; a full-backward hook replacement gradients w.r.t. the module's inputs.
using ForwardPreHook =
    std::function<std::optional<std::vector<Tensor>>(Module&, const std::vector<Tensor>& inputs)>;
using ForwardHook = std::function<std::optional<std::vector<Tensor>>(
    Module&, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs)>;
// grad_input[i] is undefined for inputs that do not require grad; grad_output[i] for outputs
// that received no gradient is zeros.
using BackwardHook = std::function<std::optional<std::vector<Tensor>>(
    Module&, const std::vector<Tensor>& grad_input, const std::vector<Tensor>& grad_output)>;

// Removes a hook when remove() is called (not on destruction: handles are often dropped).
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (remover_) remover_();
    remover_ = nullptr;
  }

 private:
  std::function<void()> remover_;
};

// Which keys load_state_dict found missing or unexpected (when not strict).
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;  // the registry points into the object: it must not move
  Module& operator=(const Module&) = delete;

  // ---- forward ----
  // The general form every call goes through (hooks see these lists). The default passes a
  // single input to forward(const Tensor&); modules with several inputs or outputs override it.
  virtual std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs);
  // The single-tensor form most layers implement.
  virtual Tensor forward(const Tensor& x);
  // Runs forward_list with the module scope pushed (for the tracer) and the hooks fired.
  std::vector<Tensor> call(const std::vector<Tensor>& inputs);
  Tensor operator()(const Tensor& x) { return first(call({x})); }
  Tensor operator()(const Tensor& a, const Tensor& b) { return first(call({a, b})); }
  Tensor operator()(const Tensor& a, const Tensor& b, const Tensor& c) {
    return first(call({a, b, c}));
  }
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs) { return call(inputs); }

  // ---- registration ----
  // An owned parameter slot; the tensor is detached and made to require grad (unless told not
  // to). Returns the slot (stable for the module's lifetime).
  Tensor& register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  // A buffer (running statistics, masks); non-persistent buffers stay out of state_dict.
  Tensor& register_buffer(const std::string& name, Tensor value, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    register_module_impl(name, module);
    return module;
  }
  // Replaces a registered submodule (the owner's typed member, if any, is not updated).
  void replace_module(const std::string& name, ModulePtr module);

  // ---- introspection (recursive, dotted paths; shared tensors reported once) ----
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const;
  std::vector<ModulePtr> children() const;
  // Includes this module itself under "" (as PyTorch).
  std::vector<std::pair<std::string, ModulePtr>> named_modules();
  std::vector<ModulePtr> modules();
  // Counts each shared parameter once (tied weights), as sum(p.numel() for p in parameters()).
  int64_t num_parameters(bool only_trainable = false) const;
  // The parameter or buffer at a dotted path ("layers.0.weight"); throws when absent.
  Tensor& tensor_at(const std::string& path);
  ModulePtr submodule(const std::string& path);
  bool has_parameter(const std::string& name) const;
  const std::string& type_name() const { return type_name_; }

  // ---- modes and conversion ----
  virtual Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  // Converts parameters and buffers in place (their identity is kept, so optimizers and tied
  // weights stay valid). Only floating-point tensors change dtype.
  Module& to(Device device);
  Module& to(DType dtype);
  Module& to(Device device, DType dtype);
  // 4-D parameters and buffers (conv weights) into `format`, in place, as PyTorch's
  // model.to(memory_format=torch.channels_last); with channels_last inputs, convolutions,
  // batch norm and pooling then run in NHWC without layout copies.
  Module& to(MemoryFormat format);
  // fn on every submodule, children first, then this module (as PyTorch).
  Module& apply(const std::function<void(Module&)>& fn);
  void zero_grad(bool set_to_none = true);
  Module& requires_grad_(bool on = true);

  // ---- state ----
  StateDict state_dict() const;  // detached tensors sharing the parameters' storage
  // Copies values into the module's tensors. strict: every key must match; errors list every
  // missing and unexpected key. A shape mismatch is always an error.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  // ---- hooks ----
  HookHandle register_forward_pre_hook(ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook);
  HookHandle register_full_backward_hook(BackwardHook hook);

  // PyTorch-style printing: "Linear(in_features=4, out_features=2, bias=True)" and children.
  std::string repr() const;
  virtual std::string extra_repr() const { return ""; }

  // ---- internals used by functional_call and the tracer ----
  // Every parameter/buffer slot with its path, duplicates included.
  std::vector<std::pair<std::string, Tensor*>> parameter_slots(const std::string& prefix = "");
  std::vector<std::pair<std::string, Tensor*>> buffer_slots(const std::string& prefix = "",
                                                            bool persistent_only = false);
  // The name under which the module was last registered (its scope component for tracing).
  const std::string& scope_name() const { return scope_name_; }

 protected:
  // Registers a member tensor as a parameter/buffer; the registry refers to the member.
  void bind_parameter(const std::string& name, Tensor& member, bool requires_grad = true);
  void bind_buffer(const std::string& name, Tensor& member, bool persistent = true);
  static Tensor first(const std::vector<Tensor>& outs);

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
    bool persistent = true;
  };
  void register_module_impl(const std::string& name, ModulePtr module);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_slots(const std::string& prefix, bool params, bool persistent_only,
                     std::vector<std::pair<std::string, Tensor*>>& out);
  void convert(const std::function<Tensor(const Tensor&)>& fn);
  std::vector<Tensor> run_with_backward_hooks(const std::vector<Tensor>& inputs);
  void repr_into(std::string& out, int indent) const;

  std::string type_name_;
  std::string scope_name_;
  bool training_ = true;
  std::vector<Slot> params_, buffers_;
  std::list<Tensor> owned_;  // storage for register_parameter/register_buffer slots
  std::vector<std::pair<std::string, ModulePtr>> children_;
  uint64_t next_hook_id_ = 0;
  std::vector<std::pair<uint64_t, ForwardPreHook>> pre_hooks_;
  std::vector<std::pair<uint64_t, ForwardHook>> fwd_hooks_;
  std::vector<std::pair<uint64_t, BackwardHook>> bwd_hooks_;
};

// Runs `module` on `inputs` with the parameters and buffers named in `replacements` swapped
// in (dotted paths), restoring the originals afterwards, even on error. A replaced tensor also
// replaces every other path tied to it. strict: every parameter and buffer must be replaced.
std::vector<Tensor> functional_call(Module& module, const StateDict& replacements,
                                    const std::vector<Tensor>& inputs, bool strict = false);

// Conversions shared by layers: PyTorch-style "True"/"False" and "(1, 2)" in repr.
namespace detail {
std::string bool_str(bool b);
std::string tuple_str(const std::vector<int64_t>& v);
}  // namespace detail

}  // namespace deepseek::nn
