// Registers the elementwise and reduction kernels of the best CPU capability available,
// decided at load time from CPUID (never at build time).
#include "deepseek/backend/cpu/capability.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace base { void register_all_kernels(); }
namespace avx2 { void register_all_kernels(); }

const char* cpu_capability() {
  static const char* cap = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                               ? "avx2" : "base";
  return cap;
}

namespace {
void select() {
  if (std::string(cpu_capability()) == "avx2") avx2::register_all_kernels();
  else base::register_all_kernels();
}
DS_REGISTER(select);
}  // namespace
}  // namespace deepseek::cpu
