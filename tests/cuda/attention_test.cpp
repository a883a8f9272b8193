// scaled_dot_product_attention on CUDA against the CPU: plain, masks, causal, dropout (same
// Philox stream on both devices), gradients.
#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/registry.h"
#include "tests/cuda/compare_util.h"
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

// The 3xTF32 operands of the f32 products on CUDA: bit for bit the CPU's split (non-contiguous
// input, both patterns), and a BERT-sized attention whose products take them stays within f32
// tolerances of the CPU's true-f32 result.
TEST(CudaAttention, Tf32SplitMatchesCpuAndKeepsF32Accuracy) {
  DS_REQUIRE_CUDA();
  static const auto op = ops::op_id("tf32_split");
  auto split = [](const Tensor& x, std::vector<int64_t> pattern) {
    return ops::dispatch1(op, {x}, ops::Attrs().set("pattern", std::move(pattern)));
  };
  Tensor x = mul(randn({37, 64}), 30.0).t();
  expect_match([&](auto& in) { return std::vector<Tensor>{split(in[0], {0, 0, 1}), split(in[0], {0, 1, 0})}; }, {x},
               "tf32_split", Tol{0.0, 0.0});
  Tensor q = randn({2, 4, 128, 64}), k = randn({2, 4, 128, 64}), v = randn({2, 4, 128, 64});
  expect_cuda_grads_match_cpu([](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); }, {q, k, v},
                              2e-5, 2e-5);
}

}  // namespace
}  // namespace deepseek::testing
