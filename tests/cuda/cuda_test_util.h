// Helpers for CUDA tests: every CUDA kernel is checked against the CPU kernel on the same
// inputs. Test names start with "Cuda" (ctest label `cuda`); each skips itself when the
// machine has no GPU, so CI (which compiles CUDA but has no device) passes.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "deepseek/core/accelerator.h"
#include "tests/support/test_util.h"

#define DS_REQUIRE_CUDA()                                                   \
  do {                                                                      \
    if (!::deepseek::cuda_is_available()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

namespace deepseek::testing {

inline const Device kCuda{DeviceType::cuda, 0};

// Tolerances per dtype for CUDA vs CPU (different summation orders and math libraries).
struct Tol {
  double rtol, atol;
};
inline Tol tol_for(DType t) {
  switch (t) {
    case DType::f16: return {2e-3, 2e-3};
    case DType::bf16: return {1.6e-2, 1e-2};
    case DType::f32: return {2e-5, 2e-6};
    case DType::f64: return {1e-12, 1e-12};
    default: return {0, 0};
  }
}

inline std::vector<Tensor> to_device_all(const std::vector<Tensor>& xs, Device d) {
  std::vector<Tensor> out;
  for (auto& x : xs) out.push_back(x.defined() ? x.to(d) : x);
  return out;
}

// Runs f on the CPU inputs and on copies of them on the GPU and compares every output
// (moved back to the CPU). Tolerances default to the output's dtype.
inline void expect_cuda_matches_cpu(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
                                    const std::vector<Tensor>& cpu_inputs, double rtol = -1,
                                    double atol = -1) {
  std::vector<Tensor> ref = f(cpu_inputs);
  std::vector<Tensor> got = f(to_device_all(cpu_inputs, kCuda));
  ASSERT_EQ(ref.size(), got.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!ref[i].defined()) continue;
    ASSERT_TRUE(got[i].device().is_cuda()) << "output " << i << " is on " << got[i].device().str();
    EXPECT_EQ(got[i].dtype(), ref[i].dtype()) << "output " << i;
    Tol t = tol_for(ref[i].dtype());
    EXPECT_TRUE(close(got[i].to(kCPU), ref[i], rtol >= 0 ? rtol : t.rtol, atol >= 0 ? atol : t.atol))
        << "output " << i;
  }
}

// Forward and backward: gradients of sum(f(x) * w) for a fixed random w, CUDA vs CPU.
inline void expect_cuda_grads_match_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                        const std::vector<Tensor>& cpu_inputs, double rtol = -1,
                                        double atol = -1) {
  auto run = [&](Device d, Tensor& out, std::vector<Tensor>& grads) {
    std::vector<Tensor> xs;
    for (auto& x : cpu_inputs) {
      Tensor y = x.to(d).detach();
      if (is_floating(y.dtype())) y.requires_grad_(true);
      xs.push_back(y);
    }
    out = f(xs);
    manual_seed(1234);
    Tensor w = randn(out.sizes(), {out.dtype()}).to(d);
    sum(mul(out, w)).backward();
    for (auto& x : xs) grads.push_back(x.requires_grad() ? x.grad() : Tensor());
  };
  Tensor ref_out, got_out;
  std::vector<Tensor> ref_g, got_g;
  run(kCPU, ref_out, ref_g);
  run(kCuda, got_out, got_g);
  Tol t = tol_for(ref_out.dtype());
  double r = rtol >= 0 ? rtol : t.rtol, a = atol >= 0 ? atol : t.atol;
  EXPECT_TRUE(close(got_out.to(kCPU), ref_out, r, a)) << "forward";
  for (size_t i = 0; i < ref_g.size(); ++i) {
    if (!ref_g[i].defined()) continue;
    ASSERT_TRUE(got_g[i].defined()) << "no gradient for input " << i << " on CUDA";
    EXPECT_TRUE(close(got_g[i].to(kCPU), ref_g[i], r * 10, a * 10)) << "gradient of input " << i;
  }
}

}  // namespace deepseek::testing
