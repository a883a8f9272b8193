#include "deepseek/ir/scope.h"

namespace deepseek::ir {
namespace {
thread_local std::string tl_scope;
}

const std::string& current_scope() { return tl_scope; }

ScopeGuard::ScopeGuard(const std::string& name) : previous_length_(tl_scope.size()) {
  if (name.empty()) return;
  if (!tl_scope.empty()) tl_scope += '.';
  tl_scope += name;
}

ScopeGuard::~ScopeGuard() { tl_scope.resize(previous_length_); }

}  // namespace deepseek::ir
