// Our f32 GEMM for AVX2+FMA CPUs: C = alpha * A @ B + beta * C, with A and B read through any
// (row, column) strides, so transposed views need no copy. It follows the BLIS design
// (Goto's loops around a 6x16 register-blocked micro-kernel, operands packed into cache-sized
// panels) and is used for large products, where oneDNN 2.6's gemm reaches about two thirds
// of this kind of CPU's peak (docs/architecture.md, "CPU matmul").
#pragma once

#include <cstdint>

namespace deepseek::cpu::gemm {

// Call only when cpu_capability() (backend/cpu/capability.h) is "avx2".
// C[i, j] = alpha * sum_k A[i, k] B[k, j] + beta * C[i, j] for i < M, j < N. Element (i, k) of A
// is at a[i * a_row + k * a_col], likewise for B; C is row-major with leading dimension ldc.
// beta == 0 never reads C (it may hold NaN). Runs on our OpenMP threads when called from the
// compute thread outside a parallel region, serially otherwise.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t a_row, int64_t a_col,
           const float* b, int64_t b_row, int64_t b_col, float beta, float* c, int64_t ldc);

// B packed once for many products against it on one thread each (a convolution's transformed
// weights, written there by the caller): packed_b_floats(K, N) floats (64-byte aligned), where
// element (k, n) lies at packed_b_index(K, N, k, n) and NR (16) consecutive n of one k are
// contiguous, 32-byte aligned in pairs of 8. sgemm_serial_packed computes C = A @ B + beta * C
// with it on the calling thread.
int64_t packed_b_floats(int64_t K, int64_t N);
int64_t packed_b_index(int64_t K, int64_t N, int64_t k, int64_t n);
void sgemm_serial_packed(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_row, int64_t a_col,
                         const float* bp, float beta, float* c, int64_t ldc);

}  // namespace deepseek::cpu::gemm
