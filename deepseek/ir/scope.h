// Module scopes: a thread-local stack of names ("layer1", "conv") that nn::Module pushes around
// its forward. The tracer stamps every recorded node with the joined path ("layer1.conv"), so
// pruning, quantization and pipeline cuts can map graph nodes back to the layers they came from.
#pragma once

#include <string>

namespace deepseek::ir {

// The current scope path on this thread, components joined by '.' ("" at top level).
const std::string& current_scope();

// Pushes one component (or a dotted path) for its lifetime.
class ScopeGuard {
 public:
  explicit ScopeGuard(const std::string& name);
  ~ScopeGuard();
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  size_t previous_length_;
};

}  // namespace deepseek::ir
