// CUDA-vs-CPU comparison with tolerances per output dtype, for kernels that sum many values:
// the GPU adds in another order than the CPU, so f32 is looser than cuda_test_util.h's
// elementwise tolerances; integer, bool and index outputs must match exactly.
#pragma once

#include <string>

#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

inline Tol reduction_tol(DType t) {
  switch (t) {
    case DType::f32: return {1e-4, 1e-5};
    case DType::f64: return {1e-10, 1e-10};
    case DType::f16: return {4e-3, 4e-3};
    case DType::bf16: return {2e-2, 2e-2};
    default: return {0, 0};
  }
}

// Runs f on the CPU inputs and on their copies on the GPU; compares every output. `tol`
// (when rtol >= 0) replaces the per-dtype tolerances.
inline void expect_match(const MultiFn& f, const std::vector<Tensor>& cpu_inputs, const std::string& what = "",
                         Tol tol = {-1, -1}) {
  std::vector<Tensor> ref = f(cpu_inputs);
  std::vector<Tensor> got = f(to_device_all(cpu_inputs, kCuda));
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(got[i].device().is_cuda()) << what << " output " << i;
    EXPECT_EQ(got[i].dtype(), ref[i].dtype()) << what << " output " << i;
    Tol t = tol.rtol >= 0 ? tol : reduction_tol(ref[i].dtype());
    EXPECT_TRUE(close(got[i].to(kCPU), ref[i], t.rtol, t.atol)) << what << " output " << i;
  }
}

}  // namespace deepseek::testing
