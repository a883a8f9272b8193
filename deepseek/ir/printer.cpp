#include "deepseek/ir/printer.h"

#include <sstream>

namespace deepseek::ir {
namespace {

std::string ref(const Value* v) { return v ? "%" + std::to_string(v->id) : "%<null>"; }

std::string constant_preview(const Tensor& t) {
  if (t.is_meta() || t.numel() > 4) return "";
  std::ostringstream os;
  auto vals = t.to_vector<double>();
  os << " (";
  for (size_t i = 0; i < vals.size(); ++i) os << (i ? ", " : "") << vals[i];
  os << ")";
  return os.str();
}

}  // namespace

std::string type_str(const ops::TensorMeta& m) {
  std::string s = std::string(dtype_name(m.dtype)) + to_string(m.sizes);
  if (!m.device.is_cpu()) s += "@" + m.device.str();
  return s;
}

std::string node_str(const Node& n) {
  std::ostringstream os;
  for (size_t i = 0; i < n.outputs.size(); ++i)
    os << (i ? ", " : "") << ref(n.outputs[i]) << " : " << type_str(n.outputs[i]->meta);
  os << (n.outputs.empty() ? "" : " = ") << n.name() << "(";
  for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << ref(n.inputs[i]);
  os << ")";
  if (!n.attrs.items().empty()) os << " {" << n.attrs.to_string() << "}";
  if (!n.scope.empty()) os << "  # " << n.scope;
  return os.str();
}

std::string to_text(const Graph& g) {
  std::ostringstream os;
  os << "graph {\n";
  for (const Value* v : g.inputs())
    os << "  " << ref(v) << " : " << type_str(v->meta) << " = " << input_kind_name(v->input_kind)
       << " \"" << v->name << "\"\n";
  for (const Value* v : g.constants())
    os << "  " << ref(v) << " : " << type_str(v->meta) << " = constant \"" << v->name << "\""
       << constant_preview(v->constant) << "\n";
  for (auto& n : g.nodes()) os << "  " << node_str(*n) << "\n";
  os << "  return (";
  for (size_t i = 0; i < g.outputs().size(); ++i) os << (i ? ", " : "") << ref(g.outputs()[i]);
  os << ")\n";
  for (auto& m : g.mutations())
    os << "  mutate " << ref(m.target) << " <- " << ref(m.value) << "\n";
  os << "}\n";
  return os.str();
}

}  // namespace deepseek::ir
