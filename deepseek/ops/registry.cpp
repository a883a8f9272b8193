#include "deepseek/ops/registry.h"

namespace deepseek::ops {

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::creation: return "creation";
    case OpKind::elementwise: return "elementwise";
    case OpKind::reduction: return "reduction";
    case OpKind::view: return "view";
    case OpKind::opaque: return "opaque";
  }
  return "?";
}

double OpDef::bytes(const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out) {
  double b = 0;
  for (auto& m : in) b += static_cast<double>(numel(m.sizes) * itemsize(m.dtype));
  for (auto& m : out) b += static_cast<double>(numel(m.sizes) * itemsize(m.dtype));
  return b;
}

Registry& Registry::get() {
  static Registry r;
  return r;
}

OpDef& Registry::def(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return defs_[it->second];
  OpId id = static_cast<OpId>(defs_.size());
  defs_.emplace_back();
  defs_.back().id = id;
  defs_.back().name = name;
  by_name_[name] = id;
  return defs_.back();
}

const OpDef* Registry::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &defs_[it->second];
}

void Registry::register_kernel(const std::string& op, DeviceType device, KernelFn fn) {
  def(op).kernels[static_cast<int>(device)] = std::move(fn);
}

}  // namespace deepseek::ops
