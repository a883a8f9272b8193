// The CPU's vector capability, decided once at load time from CPUID (never at build time):
// "avx2" (AVX2 + FMA) or "base" (x86-64). It picks the variant of the vec/ kernels and
// whether large f32 products may take our sgemm (gemm/).
#pragma once

namespace deepseek::cpu {

const char* cpu_capability();

}  // namespace deepseek::cpu
