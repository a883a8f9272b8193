// Helpers for CUDA tests of kernels that only move values (or sum them in the CPU's order):
// the CUDA result must be identical to the CPU's. Shared by the indexing and shape tests.
#pragma once

#include <string>
#include <vector>

#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {

using Outs = std::vector<Tensor>;
using OutsFn = std::function<Outs(const std::vector<Tensor>&)>;

// f on the CPU inputs and on copies of them on the GPU: same dtypes, identical values.
// (Copies to the device are contiguous: make non-contiguous operands inside f.)
inline void expect_exact(const OutsFn& f, const std::vector<Tensor>& cpu_inputs, const std::string& what = "") {
  Outs ref = f(cpu_inputs);
  Outs got = f(to_device_all(cpu_inputs, kCuda));
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(got[i].device().is_cuda()) << what << " output " << i;
    EXPECT_EQ(got[i].dtype(), ref[i].dtype()) << what << " output " << i;
    EXPECT_TRUE(close(got[i].to(kCPU), ref[i], 0, 0)) << what << " output " << i;
  }
}

// One dtype of each element width (1, 2, 4, 8 bytes), bool, and both half types.
inline const std::vector<DType> kEveryWidth = {DType::b8,  DType::u8,  DType::bf16, DType::f16, DType::i16,
                                               DType::f32, DType::i32, DType::f64,  DType::i64};

// Random values of dtype t (bools, small non-negative u8, integers in [-100, 100), normals).
inline Tensor random_values(const Shape& s, DType t) {
  if (t == DType::b8) return gt(randn(s), 0.0);
  if (t == DType::u8) return randint(0, 200, s).to(t);
  if (!is_floating(t)) return randint(-100, 100, s).to(t);
  return randn(s).to(t);
}

}  // namespace deepseek::testing
