// The fused flash attention kernels (f16/bf16, head size 64/128, no mask, no dropout): forward
// and gradients on CUDA against the CPU composite in f32 on the same (rounded) inputs, for
// lengths that are not multiples of the 64-row tiles, causal and not, L != S, strided inputs
// (heads split out of (N, L, H, D) as MultiheadAttention does), and double backward (which
// takes the composite path).
#include "deepseek/autograd/engine.h"
#include "deepseek/ops/raw_ops.h"
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

struct Case {
  int64_t n, h, l, s, d;
  bool causal;
};

// Inputs (N, L, H, D) rounded to dt, as f32 on the CPU; the CUDA side takes the (N, H, L, D)
// transposed views in dt, so its rows are strided.
void check(const Case& c, DType dt) {
  SCOPED_TRACE(::testing::Message() << "N" << c.n << " H" << c.h << " L" << c.l << " S" << c.s << " D" << c.d
                                  << (c.causal ? " causal " : " ") << dtype_name(dt));
  manual_seed(11);
  auto input = [&](int64_t len) { return cast(cast(randn({c.n, len, c.h, c.d}), dt), DType::f32); };
  Tensor q = input(c.l), k = input(c.s), v = input(c.s);
  Tensor w = randn({c.n, c.h, c.l, c.d});
  auto run = [&](Device dev, DType t, std::vector<Tensor>& grads) {
    std::vector<Tensor> xs;
    for (auto& x : {q, k, v}) xs.push_back(cast(x, t).to(dev).detach().requires_grad_(true));
    Tensor out = scaled_dot_product_attention(transpose(xs[0], 1, 2), transpose(xs[1], 1, 2), transpose(xs[2], 1, 2),
                                              {}, 0.0, c.causal);
    sum(mul(cast(out, DType::f32), w.to(dev))).backward();
    for (auto& x : xs) grads.push_back(cast(x.grad(), DType::f32).to(kCPU));
    return cast(out, DType::f32).to(kCPU);
  };
  std::vector<Tensor> ref_g, got_g;
  Tensor ref = run(kCPU, DType::f32, ref_g);
  Tensor got = run(kCuda, dt, got_g);
  double tol = dt == DType::bf16 ? 2e-2 : 4e-3;
  EXPECT_TRUE(close(got, ref, tol, tol)) << "forward";
  const char* names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(close(got_g[i], ref_g[i], 4 * tol, 4 * tol)) << names[i];
}

TEST(CudaFlashAttention, MatchesCpuCompositeBf16AndF16) {
  DS_REQUIRE_CUDA();
  for (DType dt : {DType::bf16, DType::f16}) {
    check({2, 3, 100, 100, 64, false}, dt);
    check({2, 3, 100, 100, 64, true}, dt);
    check({1, 2, 70, 130, 64, false}, dt);
    check({1, 2, 130, 70, 64, true}, dt);
    check({2, 2, 64, 64, 128, true}, dt);
    check({1, 2, 37, 90, 128, false}, dt);
  }
}

TEST(CudaFlashAttention, OpMatchesCompositeAndSavesLogSumExp) {
  DS_REQUIRE_CUDA();
  Tensor q = randn({3, 65, 64}), k = randn({3, 80, 64}), v = randn({3, 80, 64});
  auto blhd = [](const Tensor& t) { return unsqueeze(cast(t, DType::bf16), 2).to(kCuda); };  // H = 1
  auto outs = ops::dispatch(ops::op_id("flash_attention"), {blhd(q), blhd(k), blhd(v)},
                            ops::Attrs().set("scale", 0.125).set("is_causal", int64_t{0}));
  ASSERT_EQ(outs.size(), 2u);
  ASSERT_EQ(outs[0].sizes(), (Shape{3, 65, 1, 64}));
  ASSERT_EQ(outs[1].sizes(), (Shape{3, 1, 65}));
  outs[0] = squeeze(outs[0], 2);
  outs[1] = squeeze(outs[1], 1);
  Tensor qr = cast(cast(q, DType::bf16), DType::f32), kr = cast(cast(k, DType::bf16), DType::f32),
         vr = cast(cast(v, DType::bf16), DType::f32);
  Tensor s = mul(bmm(qr, transpose(kr, 1, 2)), 0.125);
  EXPECT_TRUE(close(outs[1].to(kCPU), logsumexp(s, {-1}), 1e-3, 1e-3)) << "log-sum-exp";
  EXPECT_TRUE(close(cast(outs[0], DType::f32).to(kCPU), bmm(softmax(s, -1), vr), 2e-2, 2e-2)) << "output";
  // Bad input: f32 or another head size is refused with a clear error.
  EXPECT_THROW(ops::dispatch(ops::op_id("flash_attention"),
                             {unsqueeze(q, 2).to(kCuda), unsqueeze(k, 2).to(kCuda), unsqueeze(v, 2).to(kCuda)},
                             ops::Attrs().set("scale", 0.125).set("is_causal", int64_t{0})),
               Error);
}

// q, k and v sliced from one packed (N, L, H, 3, D) projection (head and row strides that are
// not the dense ones) give what contiguous copies give, forward and backward.
TEST(CudaFlashAttention, ReadsHeadsOfAPackedProjectionInPlace) {
  DS_REQUIRE_CUDA();
  manual_seed(4);
  Tensor packed = cast(randn({2, 90, 3, 3, 64}), DType::bf16).to(kCuda);
  auto run = [&](bool copies) {
    Tensor x = packed.clone().requires_grad_(true);
    std::vector<Tensor> qkv;
    for (int64_t i = 0; i < 3; ++i) {
      Tensor t = transpose(select(x, 3, i), 1, 2);  // (N, H, L, D)
      qkv.push_back(copies ? t.contiguous() : t);
    }
    Tensor out = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], {}, 0.0, true);
    sum(mul(cast(out, DType::f32), cast(out, DType::f32))).backward();
    return std::vector<Tensor>{cast(out, DType::f32).to(kCPU), cast(x.grad(), DType::f32).to(kCPU)};
  };
  auto strided = run(false), dense = run(true);
  EXPECT_TRUE(close(strided[0], dense[0], 0.0, 0.0)) << "forward";
  EXPECT_TRUE(close(strided[1], dense[1], 1e-2, 1e-2)) << "gradient";
}

TEST(CudaFlashAttention, DoubleBackwardUsesTheComposite) {
  DS_REQUIRE_CUDA();
  manual_seed(3);
  auto grad_of_grad = [](Device dev) {
    Tensor q = cast(randn({1, 2, 20, 64}), DType::bf16).to(dev).requires_grad_(true);
    Tensor k = cast(randn({1, 2, 20, 64}), DType::bf16).to(dev);
    Tensor v = cast(randn({1, 2, 20, 64}), DType::bf16).to(dev);
    Tensor out = scaled_dot_product_attention(q, k, v, {}, 0.0, true);
    Tensor g = autograd::grad({sum(cast(out, DType::f32))}, {q}, {}, false, true)[0];
    Tensor gg = autograd::grad({sum(mul(cast(g, DType::f32), cast(g, DType::f32)))}, {q})[0];
    return cast(gg, DType::f32).to(kCPU);
  };
  manual_seed(3);
  Tensor ref = grad_of_grad(kCPU);
  manual_seed(3);
  Tensor got = grad_of_grad(kCuda);
  EXPECT_TRUE(close(got, ref, 5e-2, 5e-2));
}

}  // namespace
}  // namespace deepseek::testing
