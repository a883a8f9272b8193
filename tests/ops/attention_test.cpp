// scaled_dot_product_attention: forward vs PyTorch (tests/fixtures/nn.json) with bool, float
// and causal masks and a custom scale; gradcheck in f64; dropout reproducibility; bad inputs.
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/registry.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {
const nlohmann::json& cases() {
  static nlohmann::json j = load_fixture("nn.json").at("cases");
  return j;
}
Tensor F(const char* c, const char* k) { return tensor_from_json(cases().at(c).at(k)); }
}  // namespace

TEST(Attention, MatchesTorch) {
  const char* c = "sdpa_plain";
  EXPECT_TRUE(close(scaled_dot_product_attention(F(c, "q"), F(c, "k"), F(c, "v")), F(c, "out"), 1e-5, 1e-5));
  c = "sdpa_bool_mask";
  Tensor bm = cast(F(c, "mask"), DType::b8);
  EXPECT_TRUE(close(scaled_dot_product_attention(F(c, "q"), F(c, "k"), F(c, "v"), bm), F(c, "out"), 1e-5, 1e-5));
  c = "sdpa_float_mask_scale";
  EXPECT_TRUE(close(scaled_dot_product_attention(F(c, "q"), F(c, "k"), F(c, "v"), F(c, "mask"), 0.0, false, 0.3),
                    F(c, "out"), 1e-5, 1e-5));
  c = "sdpa_causal";
  EXPECT_TRUE(close(scaled_dot_product_attention(F(c, "q"), F(c, "k"), F(c, "v"), {}, 0.0, true), F(c, "out"),
                    1e-5, 1e-5));
}

TEST(Attention, Gradcheck) {
  Tensor q = grad_input({2, 3, 4}), k = grad_input({2, 5, 4}), v = grad_input({2, 5, 3});
  EXPECT_TRUE(grad_ok([](auto& in) {
    return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2])};
  }, {q, k, v}));
  Tensor qc = grad_input({1, 4, 2}), kc = grad_input({1, 4, 2}), vc = grad_input({1, 4, 2});
  EXPECT_TRUE(grad_ok([](auto& in) {
    return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.0, true)};
  }, {qc, kc, vc}));
  Tensor fm = grad_input({3, 5});
  EXPECT_TRUE(grad_ok([](auto& in) {
    return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2], in[3])};
  }, {q, k, v, fm}));
  EXPECT_TRUE(grad_ok([](auto& in) {
    manual_seed(11);  // the same dropout mask at every evaluation
    return std::vector<Tensor>{scaled_dot_product_attention(in[0], in[1], in[2], {}, 0.3)};
  }, {q, k, v}));
}

TEST(Attention, BadInputsNameTheOp) {
  Tensor q = randn({2, 3, 4}), k = randn({2, 5, 4}), v = randn({2, 5, 6});
  const char* op = "scaled_dot_product_attention";
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, randn({2, 5, 3}), v));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, k, randn({2, 4, 6})));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(randn({4}), k, v));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, k, v, randn({3, 4})));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, k, v, arange(5)));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, k, v, {}, 1.5));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(q, k, v, ones({3, 5}), 0.0, true));
  EXPECT_OP_ERROR(op, scaled_dot_product_attention(cast(q, DType::f64), k, v));
}

#include "deepseek/ops/attention.h"

// Chunks of the batch give the same outputs, gradients and dropout masks as one chunk.
TEST(Attention, ChunkedEqualsWhole) {
  Tensor q = randn({3, 4, 6, 8}), k = randn({3, 4, 10, 8}), v = randn({3, 4, 10, 5});
  Tensor fm = randn({3, 1, 6, 10});
  const int64_t default_chunk = attention_chunk_elements();
  auto run = [&](int64_t chunk, double p, bool causal, bool mask) {
    set_attention_chunk_elements(chunk);
    std::vector<Tensor> xs{q.clone().requires_grad_(), k.clone().requires_grad_(), v.clone().requires_grad_(),
                           fm.clone().requires_grad_()};
    manual_seed(9);
    Tensor o = scaled_dot_product_attention(xs[0], xs[1], xs[2], mask ? xs[3] : Tensor(), p,
                                            causal && !mask);
    sum(mul(o, o)).backward();
    std::vector<Tensor> r{o.detach()};
    for (int i = 0; i < (mask ? 4 : 3); ++i) r.push_back(xs[i].grad());
    set_attention_chunk_elements(default_chunk);
    return r;
  };
  for (double p : {0.0, 0.3})
    for (bool causal : {false, true})
      for (bool mask : {false, true}) {
        auto whole = run(default_chunk, p, causal, mask), parts = run(60, p, causal, mask);
        // Not bit for bit: on AVX-512 hosts oneDNN picks other batched-matmul kernels for a
        // different batch count (seen on a 16-core host: relative differences ~1e-5).
        for (size_t i = 0; i < whole.size(); ++i)
          EXPECT_TRUE(close(parts[i], whole[i], 2e-5, 1e-6)) << "p " << p << " causal " << causal << " mask " << mask
                                                              << " tensor " << i;
      }
}

// f32 without a mask takes the fused row kernels (attention_probs*); an all-zero float mask
// (or the causal mask written out) takes the op-by-op path: both agree, dropout masks included.
TEST(Attention, FusedRowKernelsMatchOpByOp) {
  Tensor q = randn({2, 3, 7, 8}), k = randn({2, 3, 9, 8}), v = randn({2, 3, 9, 5});
  Tensor qc = randn({2, 3, 9, 8});
  const double inf = std::numeric_limits<double>::infinity();
  Tensor causal_mask = triu(full({9, 9}, -inf), 1);
  auto run = [&](const Tensor& q0, const Tensor& mask, double p, bool causal) {
    std::vector<Tensor> xs{q0.clone().requires_grad_(), k.clone().requires_grad_(), v.clone().requires_grad_()};
    manual_seed(21);
    Tensor o = scaled_dot_product_attention(xs[0], xs[1], xs[2], mask, p, causal);
    sum(mul(o, o)).backward();
    return std::vector<Tensor>{o.detach(), xs[0].grad(), xs[1].grad(), xs[2].grad()};
  };
  for (double p : {0.0, 0.35}) {
    auto fused = run(q, {}, p, false), plain = run(q, zeros({7, 9}), p, false);
    for (size_t i = 0; i < fused.size(); ++i)
      EXPECT_TRUE(close(fused[i], plain[i], 1e-5, 1e-6)) << "p " << p << " tensor " << i;
    auto fused_c = run(qc, {}, p, true), plain_c = run(qc, causal_mask, p, false);
    for (size_t i = 0; i < fused_c.size(); ++i)
      EXPECT_TRUE(close(fused_c[i], plain_c[i], 1e-5, 1e-6)) << "causal p " << p << " tensor " << i;
  }
}

// tf32_split (the 3xTF32 operands of the f32 attention products on CUDA): hi + lo == x
// exactly, hi has TF32's 10-bit mantissa and is x rounded to nearest, segments follow the
// pattern; infinities and NaN pass through hi; bad inputs name the op.
TEST(Attention, Tf32SplitIsExactAndRounded) {
  auto split = [](const Tensor& x, std::vector<int64_t> pattern) {
    static const auto op = ops::op_id("tf32_split");
    return ops::dispatch1(op, {x}, ops::Attrs().set("pattern", std::move(pattern)));
  };
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<double> vals{1.0, -1.0 / 3.0, 3.4e38, -3.4028235e38, 1.17549435e-38, 1e-40, 0.0, -0.0, 12345.678, inf};
  Tensor rnd = mul(randn({6, 10}), 100.0);
  std::vector<double> r = rnd.to_vector<double>();
  vals.insert(vals.end(), r.begin(), r.begin() + 50);
  Tensor x = tensor(vals, {6, 10}).to(DType::f32);
  Tensor y = split(x.t(), {0, 1, 0});  // a non-contiguous input: (10, 6) -> (10, 18)
  ASSERT_EQ(y.sizes(), (Shape{10, 18}));
  std::vector<float> xs = contiguous(x.t()).to_vector<float>(), ys = y.to_vector<float>();
  for (int64_t row = 0; row < 10; ++row)
    for (int64_t j = 0; j < 6; ++j) {
      float v = xs[row * 6 + j], hi = ys[row * 18 + j], lo = ys[row * 18 + 6 + j];
      EXPECT_EQ(ys[row * 18 + 12 + j], hi);  // pattern (hi, lo, hi)
      uint32_t hb;
      std::memcpy(&hb, &hi, 4);
      if (std::isinf(v)) {
        EXPECT_EQ(hi, v);
        EXPECT_EQ(lo, 0.f);
        continue;
      }
      EXPECT_EQ(hb & 0x1fffu, 0u) << v;           // 10 mantissa bits
      EXPECT_EQ(hi + lo, v) << v;                 // exact
      if (std::fpclassify(v) != FP_SUBNORMAL)  // rounded to nearest: half a TF32 unit at most
        EXPECT_LE(std::abs(lo), std::abs(v) * std::ldexp(1.f, -11)) << v;
    }
  // 3xTF32 on the CPU (where the product is true f32): the split operands give a k^T.
  Tensor a = randn({2, 5, 8}), b = randn({2, 7, 8});
  Tensor prod = bmm(split(a, {0, 0, 1}), transpose(split(b, {0, 1, 0}), 1, 2));
  EXPECT_TRUE(close(prod, bmm(a, transpose(b, 1, 2)), 1e-5, 1e-5));
  EXPECT_THROW(split(randn({3}, {DType::f64}), {0, 0, 1}), Error);
  EXPECT_THROW(split(randn({3}), {0, 2, 1}), Error);
  EXPECT_THROW(split(randn({3}), {0, 1}), Error);
}

// Empty batches and sequences: empty outputs (and gradients), no crash.
TEST(Attention, EmptyBatchAndSequence) {
  for (auto shapes : std::vector<std::array<Shape, 3>>{{Shape{0, 2, 5, 4}, Shape{0, 2, 6, 4}, Shape{0, 2, 6, 3}},
                                                       {Shape{2, 3, 0, 4}, Shape{2, 3, 6, 4}, Shape{2, 3, 6, 3}}}) {
    Tensor q = randn(shapes[0]).requires_grad_(), k = randn(shapes[1]).requires_grad_(), v = randn(shapes[2]).requires_grad_();
    Tensor o = scaled_dot_product_attention(q, k, v, {}, 0.1);
    EXPECT_EQ(o.sizes(), (Shape{shapes[0][0], shapes[0][1], shapes[0][2], 3}));
    sum(o).backward();
    EXPECT_EQ(q.grad().sizes(), q.sizes());
    EXPECT_EQ(v.grad().sizes(), v.sizes());
  }
}
