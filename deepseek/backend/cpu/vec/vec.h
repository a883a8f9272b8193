// Kernels in this folder are compiled once per CPU capability (base x86-64, AVX2+FMA) into
// namespace deepseek::cpu::<capability>; backend/cpu/select_kernels.cpp registers the best
// variant the running CPU supports.
#pragma once

#include "deepseek/backend/cpu/loops.h"
#include "deepseek/ops/registry.h"

#ifndef DS_CPU_CAPABILITY
#define DS_CPU_CAPABILITY base
#endif

namespace deepseek::cpu::DS_CPU_CAPABILITY {

inline void reg(const char* op, ops::KernelFn fn) {
  ops::Registry::get().register_kernel(op, DeviceType::cpu, std::move(fn));
}

void register_unary_kernels();
void register_binary_kernels();
void register_reduce_kernels();
void register_softmax_kernels();
void register_norm_kernels();
void register_nn_kernels();

inline void register_all() {
  register_unary_kernels();
  register_binary_kernels();
  register_reduce_kernels();
  register_softmax_kernels();
  register_norm_kernels();
  register_nn_kernels();
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
