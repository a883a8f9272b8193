#include "deepseek/ir/interpreter.h"

#include <unordered_map>

#include "deepseek/ir/printer.h"
#include "deepseek/ops/defs/common.h"

namespace deepseek::ir {
namespace {

Tensor meta_like(const Tensor& t) {
  int64_t extent = t.offset() + 1;
  for (int64_t d = 0; d < t.dim(); ++d) extent += (t.sizes()[d] - 1) * t.strides()[d];
  auto storage = std::make_shared<Storage>(t.numel() == 0 ? 0 : extent * t.element_size(), kMeta);
  Tensor m = Tensor::make(storage, t.sizes(), t.strides(), t.offset(), t.dtype());
  m.impl()->wrapped_number = t.impl()->wrapped_number;
  return m;
}

}  // namespace

Tensor meta_tensor(const Value& v) {
  Strides st =
      v.strides.size() == v.meta.sizes.size() ? v.strides : contiguous_strides(v.meta.sizes);
  int64_t extent = v.offset + 1;
  for (size_t d = 0; d < st.size(); ++d) extent += (v.meta.sizes[d] - 1) * st[d];
  auto storage = std::make_shared<Storage>(
      numel(v.meta.sizes) == 0 ? 0 : extent * itemsize(v.meta.dtype), kMeta);
  Tensor t = Tensor::make(storage, v.meta.sizes, st, v.offset, v.meta.dtype);
  t.impl()->wrapped_number = v.wrapped_number;
  return t;
}

ops::Attrs retarget_device(const ops::Attrs& attrs, Device device) {
  if (!attrs.has("device")) return attrs;
  ops::Attrs a = attrs;
  a.set("device", device.str());
  return a;
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs,
                        const RunOptions& options) {
  DS_CHECK(inputs.size() == g.inputs().size(), "[ir.run] graph takes ", g.inputs().size(),
           " inputs, got ", inputs.size());
  std::unordered_map<const Value*, Tensor> env;
  Device device = kCPU;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = g.inputs()[i];
    const Tensor& t = inputs[i];
    DS_CHECK(t.defined(), "[ir.run] input ", i, " (\"", v->name, "\") is undefined");
    // Shape propagation may take other shapes; real runs must match the graph.
    const bool shape_ok = t.sizes() == v->meta.sizes || options.meta || t.is_meta();
    DS_CHECK(shape_ok && t.dtype() == v->meta.dtype, "[ir.run] input ", i, " (\"", v->name,
             "\") must be ", type_str(v->meta), ", got ", type_str(ops::meta_of(t)));
    if (i == 0) device = t.device();
    DS_CHECK(t.device() == device, "[ir.run] inputs on different devices (", device.str(), " and ",
             t.device().str(), " for \"", v->name, "\")");
    if (v->layout_sensitive && !options.meta && !t.is_meta())
      DS_CHECK(t.strides() == v->strides && t.offset() == v->offset, "[ir.run] input \"", v->name,
               "\" must have the traced strides ", to_string(v->strides), " and offset ", v->offset,
               " (the graph addresses its memory directly), got ", to_string(t.strides()), " and ",
               t.offset());
    env[v] = t;
  }
  const bool meta = options.meta || device.is_meta();
  if (inputs.empty()) {
    for (auto& n : g.nodes())
      if (n->attrs.has("device")) device = Device(n->attrs.get<std::string>("device"));
  }
  for (const Value* c : g.constants()) {
    Tensor t = c->constant;
    if (meta)
      t = meta_like(t);
    else if (t.device() != device)
      t = to_device(t, device);
    env[c] = t;
  }

  // Last use of each value, so intermediates are freed as soon as they are dead.
  std::unordered_map<const Value*, size_t> last_use;
  for (size_t i = 0; i < g.nodes().size(); ++i)
    for (const Value* in : g.nodes()[i]->inputs) last_use[in] = i;
  for (const Value* o : g.outputs()) last_use[o] = SIZE_MAX;
  for (auto& m : g.mutations()) last_use[m.value] = last_use[m.target] = SIZE_MAX;

  std::vector<Tensor> ins;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = *g.nodes()[i];
    ins.clear();
    for (const Value* v : n.inputs) {
      auto it = env.find(v);
      DS_CHECK(it != env.end(), "[ir.run] node #", i, " `", node_str(n), "` reads %",
               v ? v->id : -1, " before it is defined (run ir::verify on the graph)");
      ins.push_back(it->second);
    }
    std::vector<Tensor> outs =
        ops::dispatch(n.op, ins, meta ? retarget_device(n.attrs, kMeta) : n.attrs);
    DS_CHECK(outs.size() == n.outputs.size(), "[ir.run] node #", i, " `", node_str(n),
             "` returned ", outs.size(), " outputs");
    for (size_t k = 0; k < outs.size(); ++k) {
      const Value* v = n.outputs[k];
      DS_CHECK((meta || outs[k].sizes() == v->meta.sizes) && outs[k].dtype() == v->meta.dtype,
               "[ir.run] node #", i, " `", node_str(n), "` gave output ", k, " as ",
               type_str(ops::meta_of(outs[k])), " instead of ", type_str(v->meta));
      if (v->wrapped_number) outs[k].impl()->wrapped_number = true;
      env[v] = std::move(outs[k]);
    }
    for (const Value* v : n.inputs) {
      auto lu = last_use.find(v);
      if (lu != last_use.end() && lu->second == i && !v->is_input() && !v->is_constant())
        env.erase(v);
    }
  }

  std::vector<Tensor> results;
  for (const Value* o : g.outputs()) {
    auto it = env.find(o);
    DS_CHECK(it != env.end(), "[ir.run] graph output %", o ? o->id : -1, " is never defined");
    results.push_back(it->second);
  }
  if (options.apply_mutations) {
    for (auto& m : g.mutations()) {
      Tensor target = env.at(m.target);
      copy_(target, env.at(m.value));
    }
  }
  return results;
}

std::vector<ops::TensorMeta> infer_metas(const Graph& g,
                                         const std::vector<ops::TensorMeta>& input_metas) {
  DS_CHECK(input_metas.empty() || input_metas.size() == g.inputs().size(), "[ir.infer_metas] got ",
           input_metas.size(), " input metas for a graph of ", g.inputs().size(), " inputs");
  std::vector<Tensor> ins;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value* v = g.inputs()[i];
    if (input_metas.empty()) {
      ins.push_back(meta_tensor(*v));
    } else {
      const auto& m = input_metas[i];
      ins.push_back(Tensor::empty(m.sizes, m.dtype, kMeta));
    }
  }
  RunOptions o;
  o.apply_mutations = false;
  o.meta = true;
  std::vector<Tensor> outs = run(g, ins, o);
  std::vector<ops::TensorMeta> metas;
  for (auto& t : outs) metas.push_back(ops::meta_of(t));
  return metas;
}

}  // namespace deepseek::ir
