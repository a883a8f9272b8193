// The tracer interposer and the tensor -> Value bookkeeping behind it. Bindings map a tensor
// impl to the Value it holds and the storage version at which that was true; a version bump
// the tracer did not rebind (an in-place write through another alias) makes the binding stale,
// and the tensor is re-derived from its storage's root Value with as_strided.
#include "deepseek/ir/tracer.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/memory_order.h"
#include "deepseek/ir/scope.h"
#include "deepseek/ops/defs/common.h"

namespace deepseek::ir {
namespace detail {

namespace {
// Equal layouts, ignoring strides of size-1 dims (they never address memory).
bool same_strides(const Shape& sizes, const Strides& a, const Strides& b) {
  if (a.size() != b.size() || a.size() != sizes.size()) return false;
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] != 1 && a[i] != b[i]) return false;
  return true;
}

bool same_geometry(const TensorImpl& a, const TensorImpl& b) {
  return a.dtype == b.dtype && a.sizes == b.sizes && a.offset == b.offset &&
         same_strides(a.sizes, a.strides, b.strides);
}

// The layout the dispatcher gives a fresh output (mirrors its allocation rule: elementwise
// outputs follow the stride order of the first same-shaped dense non-contiguous input).
Strides predicted_strides(const ops::OpCall& call, const ops::TensorMeta& m) {
  if (call.def->kind == ops::OpKind::elementwise)
    if (auto st = strides_following(call.inputs, m.sizes)) return *st;
  return contiguous_strides(m.sizes);
}

ops::Attrs strided_attrs(const Shape& sizes, const Strides& strides, int64_t offset) {
  return ops::Attrs()
      .set("sizes", ops::AttrValue(std::vector<int64_t>(sizes.begin(), sizes.end())))
      .set("strides", ops::AttrValue(std::vector<int64_t>(strides.begin(), strides.end())))
      .set("offset", ops::AttrValue(offset));
}
}  // namespace

class Tracer {
 public:
  struct Binding {
    Value* value;
    uint32_t version;
    std::shared_ptr<TensorImpl> keep;  // keeps the impl alive so its address is not reused
  };
  struct StorageInfo {
    std::shared_ptr<TensorImpl> root;  // the tensor whose Value stands for the storage
    bool layout_ok = true;             // the root's Value has the root's layout on replay
    std::vector<TensorImpl*> aliases;  // every bound impl over this storage
  };

  Graph graph;
  bool finished = false;

  Value* add_input(const Tensor& t, const std::string& name, InputKind kind) {
    DS_CHECK(t.defined(), "[ir.trace] graph input '", name, "' is an undefined tensor");
    Value* v = graph.add_input(name, ops::meta_of(t), kind);
    v->strides = t.strides();
    v->offset = t.offset();
    bind(t, v);
    externals_.push_back({t.impl_ptr(), v});
    return v;
  }

  // The Value a tensor holds now (binding it as a constant or alias when unseen).
  Value* value_of(const Tensor& t) {
    TensorImpl* impl = t.impl();
    auto it = bindings_.find(impl);
    Value* v = nullptr;
    if (it != bindings_.end() && it->second.version == t.version()) {
      v = it->second.value;
    } else {
      auto sit = storages_.find(t.storage().get());
      v = sit == storages_.end() ? bind_constant(t) : derive_alias(t, sit->second);
    }
    if (impl->wrapped_number) v->wrapped_number = true;
    return v;
  }

  std::vector<Tensor> intercept(ops::OpCall& call, const ops::Next& next) {
    const ops::OpDef& def = *call.def;
    std::vector<Value*> ins;
    ins.reserve(call.inputs.size());
    for (auto& t : call.inputs) ins.push_back(value_of(t));
    const bool inplace = call.inplace_self.defined();

    // The in-place path needs the root's value before the kernel bumps the version.
    Tensor self = call.inplace_self;
    std::shared_ptr<TensorImpl> root;
    Value* root_value = nullptr;
    if (inplace) {
      value_of(self);
      root = storages_.at(self.storage().get()).root;
      root_value = value_of(Tensor(root));
    }

    std::vector<Tensor> outs;
    {
      // Ops a kernel (or autograd) dispatches internally belong to this node, not the graph.
      ops::InterposerOff off(ops::Slot::tracer);
      outs = next(call);
    }

    if (!inplace) {
      std::vector<ops::TensorMeta> metas;
      for (auto& o : outs) metas.push_back(ops::meta_of(o));
      Node* n = graph.add_node(def.id, std::move(ins), call.attrs, metas, current_scope());
      for (size_t i = 0; i < outs.size(); ++i) {
        n->outputs[i]->strides = outs[i].strides();
        n->outputs[i]->offset = outs[i].offset();
        bind(outs[i], n->outputs[i]);
      }
      return outs;
    }
    rewrite_inplace(call, self, root, root_value, std::move(ins));
    return outs;
  }

  Graph finish(const std::vector<Tensor>& outputs) {
    std::vector<Value*> outs;
    for (auto& t : outputs) {
      DS_CHECK(t.defined(), "[ir.trace] traced function returned an undefined tensor");
      outs.push_back(value_of(t));
    }
    graph.set_outputs(std::move(outs));
    for (auto& [impl, original] : externals_) {
      Value* now = value_of(Tensor(impl));
      if (now != original) graph.add_mutation(original, now);
    }
    finished = true;
    bindings_.clear();
    storages_.clear();
    externals_.clear();
    return std::move(graph);
  }

 private:
  void bind(const Tensor& t, Value* v) {
    TensorImpl* impl = t.impl();
    auto [it, fresh] = bindings_.insert_or_assign(impl, Binding{v, t.version(), t.impl_ptr()});
    (void)it;
    auto& si = storages_[t.storage().get()];
    if (!si.root) si.root = t.impl_ptr();
    if (std::find(si.aliases.begin(), si.aliases.end(), impl) == si.aliases.end())
      si.aliases.push_back(impl);
    (void)fresh;
  }

  Value* bind_constant(const Tensor& t) {
    std::string base = t.name().empty() ? "c" : t.name();
    std::string name = t.name().empty() ? base + std::to_string(next_constant_++) : base;
    while (graph.constant(name) || graph.input(name))
      name = base + "_" + std::to_string(next_constant_++);
    Value* v = graph.add_constant(name, t);
    bind(t, v);
    externals_.push_back({t.impl_ptr(), v});
    return v;
  }

  // An alias of a traced storage that is unseen or stale: the same Value as an identical
  // current alias, else a view of the root's current Value.
  Value* derive_alias(const Tensor& t, StorageInfo& si) {
    TensorImpl* impl = t.impl();
    const uint32_t version = t.version();
    for (TensorImpl* a : si.aliases) {
      auto& b = bindings_.at(a);
      if (a != impl && b.version == version && same_geometry(*a, *impl)) {
        bind(t, b.value);
        return b.value;
      }
    }
    TensorImpl* r = si.root.get();
    auto& rb = bindings_.at(r);
    DS_CHECK(rb.version == version, "[ir.trace] a tensor of shape ", to_string(impl->sizes),
             " was written in place without going through the dispatcher (or with the tracer "
             "switched off) during tracing; the graph cannot reproduce that write");
    DS_CHECK(impl->dtype == r->dtype, "[ir.trace] a tensor reinterprets traced memory of dtype ",
             dtype_name(r->dtype), " as ", dtype_name(impl->dtype), "; this cannot be traced");
    if (same_geometry(*r, *impl)) {
      bind(t, rb.value);
      return rb.value;
    }
    DS_CHECK(si.layout_ok, "[ir.trace] a view of shape ", to_string(impl->sizes),
             " is read after an in-place write changed its non-contiguous base's layout; "
             "call .contiguous() on the base before writing into it");
    Value* rv = rb.value;
    int64_t offset = impl->offset - r->offset;
    if (!rv->producer) {  // an input or constant: addressed through its own strides/offset
      rv->layout_sensitive = true;
      offset = impl->offset;
    }
    static const ops::OpId as_strided = ops::op_id("as_strided");
    Node* n = graph.add_node(as_strided, {rv}, strided_attrs(impl->sizes, impl->strides, offset),
                             {ops::meta_of(t)}, current_scope());
    Value* v = n->outputs[0];
    v->strides = impl->strides;
    v->offset = impl->offset;
    bind(t, v);
    return v;
  }

  void rewrite_inplace(const ops::OpCall& call, const Tensor& self,
                       const std::shared_ptr<TensorImpl>& root, Value* root_value,
                       std::vector<Value*> ins) {
    static const ops::OpId clone_id = ops::op_id("clone");
    static const ops::OpId scatter_id = ops::op_id("as_strided_scatter");
    static const ops::OpId as_strided_id = ops::op_id("as_strided");
    const std::string& scope = current_scope();
    auto& si = storages_.at(self.storage().get());
    const ops::TensorMeta& m = call.out_meta[0];
    // Autograd saves a contiguous clone of each input the write overwrites; the pure op reads
    // a clone too, so its backward sees the same layouts (and sums in the same order).
    ops::OpCall layout_call{call.def, call.inputs, {}, {}, {}};
    if (autograd_records(call)) {
      const ops::OpDef& def = *call.def;
      for (size_t i = 0; i < ins.size(); ++i) {
        const Tensor& t = call.inputs[i];
        bool saved =
            def.save_all_inputs || std::find(def.save_inputs.begin(), def.save_inputs.end(),
                                             static_cast<int>(i)) != def.save_inputs.end();
        if (!saved || t.storage() != self.storage() || t.is_contiguous()) continue;
        ins[i] = graph.add_node(clone_id, {ins[i]}, {}, {ops::meta_of(t)}, scope)->outputs[0];
        ins[i]->strides = contiguous_strides(t.sizes());
        layout_call.inputs[i] =
            Tensor::make(t.storage(), t.sizes(), contiguous_strides(t.sizes()), 0, t.dtype());
      }
    }
    Node* n = graph.add_node(call.def->id, std::move(ins), call.attrs, {m}, scope);
    Value* fresh = n->outputs[0];
    fresh->strides = predicted_strides(layout_call, m);
    Tensor root_t(root);

    if (same_geometry(*self.impl(), *root)) {
      if (!same_strides(m.sizes, fresh->strides, root->strides)) {
        if (root_t.is_contiguous()) {
          fresh = graph.add_node(clone_id, {fresh}, {}, {m}, scope)->outputs[0];
          fresh->strides = contiguous_strides(m.sizes);
        } else {
          si.layout_ok = false;
        }
      }
      bind(root_t, fresh);
      bind(self, fresh);
      return;
    }
    DS_CHECK(root_t.is_contiguous(), "[", call.def->name,
             "] in-place write into a view of a "
             "non-contiguous tensor cannot be traced; make the base contiguous first");
    DS_CHECK(si.layout_ok, "[", call.def->name,
             "] in-place write into a view after the base's "
             "layout changed cannot be traced; make the base contiguous first");
    const int64_t rel = self.offset() - root->offset;
    ops::Attrs window = strided_attrs(self.sizes(), self.strides(), rel);
    Value* new_root =
        graph.add_node(scatter_id, {root_value, fresh}, window, {ops::meta_of(root_t)}, scope)
            ->outputs[0];
    new_root->strides = contiguous_strides(root->sizes);
    Value* new_self =
        graph.add_node(as_strided_id, {new_root}, window, {ops::meta_of(self)}, scope)->outputs[0];
    new_self->strides = self.strides();
    new_self->offset = rel;
    bind(root_t, new_root);
    bind(self, new_self);
  }

  static bool autograd_records(const ops::OpCall& call) {
    if (!autograd::GradMode::enabled() || !call.def->differentiable || !call.def->backward)
      return false;
    for (auto& t : call.inputs)
      if (t.defined() && t.requires_grad()) return true;
    return false;
  }

  std::unordered_map<TensorImpl*, Binding> bindings_;
  std::unordered_map<const Storage*, StorageInfo> storages_;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, Value*>> externals_;  // inputs, constants
  int next_constant_ = 0;
};

namespace {
thread_local Tracer* tl_tracer = nullptr;

class TracerInterposer final : public ops::Interposer {
 public:
  bool active(const ops::OpCall&) const override { return tl_tracer && !tl_tracer->finished; }
  std::vector<Tensor> intercept(ops::OpCall& call, const ops::Next& next) override {
    return tl_tracer->intercept(call, next);
  }
};

void install() {
  static TracerInterposer interposer;
  ops::set_interposer(ops::Slot::tracer, &interposer);
}
DS_REGISTER(install);
}  // namespace
}  // namespace detail

bool is_tracing() { return detail::tl_tracer && !detail::tl_tracer->finished; }

void check_not_tracing(const std::string& what) {
  DS_CHECK(!is_tracing(), "[ir.trace] ", what,
           " reads a tensor's value on the host, which a "
           "trace cannot capture (the graph would bake in this one value); keep the value on "
           "the device as a tensor, or move this code outside the traced function");
}

TraceScope::TraceScope() : tracer_(std::make_unique<detail::Tracer>()) {
  DS_CHECK(!detail::tl_tracer,
           "[ir.trace] a trace is already active on this thread; traces "
           "do not nest");
  detail::tl_tracer = tracer_.get();
}

TraceScope::~TraceScope() {
  if (detail::tl_tracer == tracer_.get()) detail::tl_tracer = nullptr;
}

Value* TraceScope::add_input(const Tensor& t, const std::string& name, InputKind kind) {
  DS_CHECK(!tracer_->finished, "[ir.trace] add_input after finish()");
  return tracer_->add_input(t, name, kind);
}

Graph TraceScope::finish(const std::vector<Tensor>& outputs) {
  DS_CHECK(!tracer_->finished, "[ir.trace] finish() called twice");
  Graph g = tracer_->finish(outputs);
  if (detail::tl_tracer == tracer_.get()) detail::tl_tracer = nullptr;
  return g;
}

const Graph& TraceScope::graph() const { return tracer_->graph; }

Graph trace(const TracedFn& fn, const std::vector<Tensor>& example_inputs,
            const std::vector<NamedTensor>& params, const std::vector<std::string>& input_names) {
  DS_CHECK(input_names.empty() || input_names.size() == example_inputs.size(), "[ir.trace] got ",
           input_names.size(), " input names for ", example_inputs.size(), " inputs");
  TraceScope scope;
  for (size_t i = 0; i < example_inputs.size(); ++i)
    scope.add_input(example_inputs[i],
                    input_names.empty() ? "input" + std::to_string(i) : input_names[i]);
  for (auto& p : params) scope.add_input(p.tensor, p.name, p.kind);
  std::vector<Tensor> outs = fn(example_inputs);
  return scope.finish(outs);
}

}  // namespace deepseek::ir
