#include "deepseek/backend/cpu/vec/vec.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
void register_all_kernels() { register_all(); }
}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
