#include "deepseek/ir/verifier.h"

#include <unordered_map>
#include <unordered_set>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ir/interpreter.h"
#include "deepseek/ir/printer.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/registry.h"

namespace deepseek::ir {
namespace {

std::string ref(const Value* v) { return v ? "%" + std::to_string(v->id) : "a null value"; }

}  // namespace

void verify(const Graph& g, const VerifyOptions& options) {
  std::unordered_set<const Value*> owned;
  std::unordered_set<int> ids;
  for (auto& v : g.values()) {
    owned.insert(v.get());
    DS_CHECK(ids.insert(v->id).second, "[ir.verify] value id %", v->id, " is used twice");
  }
  std::unordered_set<const Value*> defined;
  std::unordered_map<const Value*, Tensor> metas;
  std::unordered_set<std::string> names;
  for (const Value* v : g.inputs()) {
    DS_CHECK(v && owned.count(v), "[ir.verify] a graph input is not a value of this graph");
    DS_CHECK(v->kind == ValueKind::input && !v->producer, "[ir.verify] graph input ", ref(v),
             " (\"", v->name, "\") is not marked as an input");
    DS_CHECK(names.insert(v->name).second, "[ir.verify] name \"", v->name, "\" is used twice");
    DS_CHECK(defined.insert(v).second, "[ir.verify] input ", ref(v), " is listed twice");
  }
  for (const Value* v : g.constants()) {
    DS_CHECK(v && owned.count(v), "[ir.verify] a constant is not a value of this graph");
    DS_CHECK(v->kind == ValueKind::constant && !v->producer && v->constant.defined(),
             "[ir.verify] constant ", ref(v), " (\"", v->name, "\") holds no tensor");
    DS_CHECK(v->constant.sizes() == v->meta.sizes && v->constant.dtype() == v->meta.dtype,
             "[ir.verify] constant ", ref(v), " (\"", v->name, "\") is recorded as ",
             type_str(v->meta), " but holds ", type_str(ops::meta_of(v->constant)));
    DS_CHECK(names.insert(v->name).second, "[ir.verify] name \"", v->name, "\" is used twice");
    DS_CHECK(defined.insert(v).second, "[ir.verify] constant ", ref(v), " is listed twice");
  }
  if (options.check_metas) {
    for (const Value* v : g.inputs()) metas[v] = meta_tensor(*v);
    for (const Value* v : g.constants()) metas[v] = meta_tensor(*v);
  }

  const auto& reg = ops::Registry::get();
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = *g.nodes()[i];
    DS_CHECK(n.op < reg.size(), "[ir.verify] node #", i, " has unknown op id ", n.op);
    const std::string where = "[ir.verify] node #" + std::to_string(i) + " `" + node_str(n) + "`: ";
    const ops::OpDef& def = n.def();
    DS_CHECK(n.index == static_cast<int>(i), where, "records position ", n.index);
    DS_CHECK(def.infer, where, "op '", def.name, "' has no definition");
    DS_CHECK(def.num_inputs < 0 || static_cast<int>(n.inputs.size()) == def.num_inputs, where,
             "has ", n.inputs.size(), " inputs but '", def.name, "' takes ", def.num_inputs);
    DS_CHECK(def.num_outputs < 0 || static_cast<int>(n.outputs.size()) == def.num_outputs, where,
             "has ", n.outputs.size(), " outputs but '", def.name, "' gives ", def.num_outputs);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Value* v = n.inputs[k];
      DS_CHECK(v && owned.count(v), where, "input ", k, " (", ref(v),
               ") is not a value of this graph");
      DS_CHECK(defined.count(v), where, "input ", k, " (", ref(v),
               ") is used before it is defined");
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const Value* v = n.outputs[k];
      DS_CHECK(v && owned.count(v), where, "output ", k, " is not a value of this graph");
      DS_CHECK(v->producer == &n && v->output_index == static_cast<int>(k) &&
                   v->kind == ValueKind::node_output,
               where, "output ", k, " (", ref(v), ") does not record this node as its producer");
      DS_CHECK(defined.insert(v).second, where, "output ", k, " (", ref(v),
               ") is defined more than once");
    }
    if (!options.check_metas) continue;
    std::vector<Tensor> ins;
    for (const Value* v : n.inputs) ins.push_back(metas.at(v));
    std::vector<Tensor> outs;
    try {
      ops::InterposerOff no_trace(ops::Slot::tracer);
      autograd::NoGradGuard no_grad;
      outs = ops::dispatch(n.op, ins, retarget_device(n.attrs, kMeta));
    } catch (const Error& e) {
      DS_THROW(where, "inference on its input metas fails: ", e.what());
    }
    DS_CHECK(outs.size() == n.outputs.size(), where, "inference gives ", outs.size(),
             " outputs, the node has ", n.outputs.size());
    for (size_t k = 0; k < outs.size(); ++k) {
      const Value* v = n.outputs[k];
      DS_CHECK(outs[k].sizes() == v->meta.sizes && outs[k].dtype() == v->meta.dtype, where,
               "output ", k, " (", ref(v), ") is recorded as ", type_str(v->meta),
               " but inference gives ",
               type_str({outs[k].sizes(), outs[k].dtype(), v->meta.device}));
      if (v->wrapped_number) outs[k].impl()->wrapped_number = true;
      metas[v] = outs[k];
    }
  }
  for (size_t k = 0; k < g.outputs().size(); ++k)
    DS_CHECK(defined.count(g.outputs()[k]), "[ir.verify] graph output ", k, " (",
             ref(g.outputs()[k]), ") is not defined");
  for (auto& m : g.mutations()) {
    DS_CHECK(
        m.target && (m.target->is_input() || m.target->is_constant()) && defined.count(m.target),
        "[ir.verify] mutation target ", ref(m.target), " is not a graph input or constant");
    DS_CHECK(defined.count(m.value), "[ir.verify] mutation of ", ref(m.target), " takes ",
             ref(m.value), ", which is not defined");
    DS_CHECK(
        m.value->meta.sizes == m.target->meta.sizes && m.value->meta.dtype == m.target->meta.dtype,
        "[ir.verify] mutation of ", ref(m.target), " (", type_str(m.target->meta), ") takes ",
        ref(m.value), " of a different meta (", type_str(m.value->meta), ")");
  }
}

}  // namespace deepseek::ir
