// scaled_dot_product_attention on CUDA against the CPU: plain, masks, causal, dropout (same
// Philox stream on both devices), gradients.
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

TEST(CudaAttention, MatchesCpuForwardAndBackward) {
  DS_REQUIRE_CUDA();
  Tensor q = randn({2, 3, 17, 8}), k = randn({2, 3, 23, 8}), v = randn({2, 3, 23, 5});
  expect_cuda_grads_match_cpu([](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); }, {q, k, v},
                              1e-4, 1e-5);
  Tensor kc = randn({2, 3, 17, 8}), vc = randn({2, 3, 17, 5});
  expect_cuda_grads_match_cpu(
      [](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.0, true); }, {q, kc, vc}, 1e-4,
      1e-5);
  Tensor fm = randn({17, 23});
  expect_cuda_grads_match_cpu([](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], in[3]); },
                              {q, k, v, fm}, 1e-4, 1e-5);
  Tensor bm = gt(randn({2, 1, 1, 23}), -1.0);
  expect_cuda_matches_cpu(
      [](auto& in) { return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2], in[3])}; },
      {q, k, v, bm}, 1e-4, 1e-5);
  expect_cuda_matches_cpu(
      [](auto& in) {
        manual_seed(5);
        return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.25)};
      },
      {q, k, v}, 1e-4, 1e-5);
  // Dropout through the backward too (the fused row kernels on both devices, one Philox stream).
  expect_cuda_grads_match_cpu(
      [](auto& in) {
        manual_seed(5);
        return scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.25);
      },
      {q, k, v}, 1e-4, 1e-5);
  expect_cuda_grads_match_cpu(
      [](auto& in) {
        manual_seed(6);
        return scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.1, true);
      },
      {q, kc, vc}, 1e-4, 1e-5);
  // Key counts that are multiples of 4 take the CUDA kernels' float4 / in-register paths.
  Tensor k4 = randn({2, 3, 24, 8}), v4 = randn({2, 3, 24, 5});
  expect_cuda_grads_match_cpu(
      [](auto& in) {
        manual_seed(7);
        return scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.2);
      },
      {q, k4, v4}, 1e-4, 1e-5);
}

}  // namespace
}  // namespace deepseek::testing
