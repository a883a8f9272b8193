// The open op registry: ops register by name (core ops in ops/, collectives in distributed/,
// quantize in compress/, fused kernels in jit/) and get a stable OpId for this process.
// Backends add kernels to ops by name; either side may register first.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "deepseek/ops/op_def.h"

namespace deepseek::ops {

class Registry {
 public:
  static Registry& get();

  // Returns the definition named `name`, creating an empty one on first use.
  OpDef& def(const std::string& name);
  OpId id(const std::string& name) { return def(name).id; }
  const OpDef& at(OpId id) const { return defs_[id]; }
  const OpDef* find(const std::string& name) const;
  size_t size() const { return defs_.size(); }
  const std::deque<OpDef>& all() const { return defs_; }

  void register_kernel(const std::string& op, DeviceType device, KernelFn fn);

 private:
  std::deque<OpDef> defs_;  // deque: references stay valid as ops are added
  std::unordered_map<std::string, OpId> by_name_;
  mutable std::mutex mu_;
};

// Static registration helpers: DS_REGISTER(fn) runs fn() at load time.
struct StaticInit {
  explicit StaticInit(void (*fn)()) { fn(); }
};

}  // namespace deepseek::ops

#define DS_STATIC_INIT_CONCAT_(a, b) a##b
#define DS_STATIC_INIT_CONCAT(a, b) DS_STATIC_INIT_CONCAT_(a, b)
#define DS_REGISTER(fn) \
  static ::deepseek::ops::StaticInit DS_STATIC_INIT_CONCAT(ds_static_init_, __LINE__)(fn)
