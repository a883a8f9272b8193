// matmul / mm / bmm / linear / addmm / einsum: forward against PyTorch fixtures
// (tests/fixtures/gen_linalg.py), f64 (OpenBLAS) against f32 (oneDNN and our sgemm), half precision,
// gradcheck and double backward in f64, the primitive cache, and bad inputs.
#include "deepseek/backend/cpu/capability.h"
#include "deepseek/backend/cpu/gemm/sgemm.h"
#include "deepseek/backend/cpu/onednn/onednn.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/registry.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;
using nlohmann::json;

namespace {
const json& fixtures() {
  static json j = load_fixture("linalg.json");
  return j.at("cases");
}
std::vector<Tensor> inputs_of(const json& c) {
  std::vector<Tensor> r;
  for (auto& x : c.at("inputs")) r.push_back(tensor_from_json(x));
  return r;
}
Tensor randn64(const Shape& s) { return randn(s, {DType::f64}); }
}  // namespace

TEST(Linalg, ForwardMatchesPyTorch) {
  const json& cs = fixtures();
  for (auto it = cs.begin(); it != cs.end(); ++it) {
    const std::string& name = it.key();
    if (name.rfind("einsum", 0) == 0) continue;
    auto in = inputs_of(*it);
    Tensor out;
    if (name == "mm") out = mm(in[0], in[1]);
    else if (name == "matmul_transposed") out = matmul(in[0].t(), in[1].t());
    else if (name.rfind("matmul", 0) == 0) out = matmul(in[0], in[1]);
    else if (name == "bmm") out = bmm(in[0], in[1]);
    else if (name == "linear") out = linear(in[0], in[1], in[2]);
    else if (name == "linear_nobias_1d") out = linear(in[0], in[1]);
    else if (name.rfind("addmm", 0) == 0)
      out = addmm(in[0], in[1], in[2], it->at("attrs").at("beta").get<double>(),
                  it->at("attrs").at("alpha").get<double>());
    else FAIL() << "unknown case " << name;
    EXPECT_TRUE(close(out, tensor_from_json(it->at("out")), 1e-4, 1e-4)) << name;
  }
}

TEST(Linalg, EinsumMatchesPyTorch) {
  const json& cs = fixtures();
  int n = 0;
  for (auto it = cs.begin(); it != cs.end(); ++it) {
    if (it.key().rfind("einsum", 0) != 0) continue;
    std::string eq = it->at("equation");
    Tensor out = einsum(eq, inputs_of(*it));
    EXPECT_TRUE(close(out, tensor_from_json(it->at("out")), 1e-4, 1e-4)) << eq;
    ++n;
  }
  EXPECT_GE(n, 10);
}

TEST(Linalg, F64AgreesWithF32AndLayouts) {
  Tensor a = randn64({3, 5, 7}), b = randn64({7, 4});
  Tensor r64 = matmul(a, b);
  Tensor r32 = matmul(a.to(DType::f32), b.to(DType::f32));
  EXPECT_TRUE(close(r32, r64, 1e-4, 1e-4));
  // Transposed, sliced (step) and expanded (stride-0 batch) operands.
  Tensor at = randn64({2, 7, 5}).transpose(1, 2);
  Tensor bs = randn64({2, 14, 4}).slice(1, 0, 14, 2);
  Tensor ref = matmul(contiguous(at), contiguous(bs));
  EXPECT_TRUE(close(matmul(at, bs), ref, 1e-10, 1e-10));
  EXPECT_TRUE(close(matmul(at.to(DType::f32), bs.to(DType::f32)), ref, 1e-4, 1e-4));
  Tensor be = randn64({1, 5, 3}).expand({4, 5, 3});
  Tensor ae = randn64({4, 2, 5});
  EXPECT_TRUE(close(bmm(ae, be), bmm(ae, contiguous(be)), 1e-12, 1e-12));
  EXPECT_TRUE(close(bmm(ae.to(DType::f32), be.to(DType::f32)), bmm(ae, contiguous(be)), 1e-4, 1e-4));
}

// Our AVX2 sgemm, called directly: edge tiles in every dimension (sizes not multiples of the
// 6x16 tile or the K block), every operand layout, alpha / beta (beta 0 never reads C, which
// holds NaN), a leading dimension wider than N, on one thread and on the team.
TEST(Linalg, SgemmMatchesF64Reference) {
  if (std::string(cpu::cpu_capability()) != "avx2") GTEST_SKIP() << "CPU has no AVX2+FMA";
  const int64_t M = 61, N = 35, K = 300, ldc = 40;
  Tensor a = randn64({M, K}), b = randn64({K, N}), c0 = randn64({M, N});
  Tensor ref_ab = matmul(a, b);
  Tensor a32 = a.to(DType::f32), at32 = contiguous(a.t()).to(DType::f32);
  Tensor b32 = b.to(DType::f32), bt32 = contiguous(b.t()).to(DType::f32);
  const float* A = a32.data<float>();
  const float* AT = at32.data<float>();
  const float* B = b32.data<float>();
  const float* BT = bt32.data<float>();
  struct Case { float alpha, beta; bool ta, tb; int threads; };
  for (Case cs : {Case{1, 0, false, false, 1}, Case{1, 0, true, false, 2}, Case{0.5f, 2, false, true, 2},
                  Case{-1, 1, true, true, 1}, Case{2, 0, true, true, 2}}) {
    int saved = num_threads();
    set_num_threads(cs.threads);
    std::vector<float> C(M * ldc, NAN);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = cs.beta == 0 ? NAN : static_cast<float>(c0.to_vector<double>()[i * N + j]);
    cpu::gemm::sgemm(M, N, K, cs.alpha, cs.ta ? AT : A, cs.ta ? 1 : K, cs.ta ? M : 1, cs.tb ? BT : B, cs.tb ? 1 : N,
                     cs.tb ? K : 1, cs.beta, C.data(), ldc);
    set_num_threads(saved);
    Tensor want = add(mul(ref_ab, cs.alpha), mul(c0, cs.beta == 0 ? 0.0 : cs.beta));
    std::vector<double> w = want.to_vector<double>();
    double worst = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) worst = std::max(worst, std::abs(C[i * ldc + j] - w[i * N + j]));
    EXPECT_LT(worst, 1e-3) << "alpha " << cs.alpha << " beta " << cs.beta << " ta " << cs.ta << " tb " << cs.tb;
    for (int64_t i = 0; i < M; ++i)  // the columns between N and ldc are never written
      for (int64_t j = N; j < ldc; ++j) ASSERT_TRUE(std::isnan(C[i * ldc + j]));
  }
}

// Products large enough to take our sgemm through the public ops, against f64 (OpenBLAS):
// transposed views, a broadcast batch, linear's bias, addmm's alpha and beta.
TEST(Linalg, LargeF32ProductsMatchF64) {
  Tensor a = randn64({2, 300, 270}), b = randn64({270, 520}), w = randn64({260, 270}), bias = randn64({260});
  auto near = [](const Tensor& f32, const Tensor& f64) { return close(f32, f64, 1e-3, 1e-3); };
  EXPECT_TRUE(near(matmul(a.to(DType::f32), b.to(DType::f32)), matmul(a, b)));
  Tensor bt = contiguous(b.t());
  EXPECT_TRUE(near(matmul(a.to(DType::f32), bt.to(DType::f32).t()), matmul(a, b)));
  EXPECT_TRUE(near(linear(a.to(DType::f32), w.to(DType::f32), bias.to(DType::f32)), linear(a, w, bias)));
  Tensor x = randn64({300, 270}), c = randn64({300, 520});
  EXPECT_TRUE(near(addmm(c.to(DType::f32), x.to(DType::f32), b.to(DType::f32), 0.5, -2.0), addmm(c, x, b, 0.5, -2.0)));
  Tensor xt = randn64({270, 300});  // a transposed left operand (a weight gradient's layout)
  EXPECT_TRUE(near(matmul(xt.to(DType::f32).t(), b.to(DType::f32)), matmul(xt.t(), b)));
}

TEST(Linalg, HalfPrecisionThroughF32) {
  Tensor a = randn({4, 8}), b = randn({8, 3});
  Tensor ref = matmul(a, b);
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor r = matmul(a.to(t), b.to(t));
    EXPECT_EQ(r.dtype(), t);
    EXPECT_TRUE(close(r, ref, 5e-2, 5e-2)) << dtype_name(t);
    Tensor l = linear(a.to(t), b.t().to(t), ones({3}, {t}));
    EXPECT_TRUE(close(l, add(ref, 1), 5e-2, 5e-2)) << dtype_name(t);
  }
}

TEST(Linalg, EmptyShapes) {
  Tensor r = matmul(zeros({3, 0}), zeros({0, 4}));
  EXPECT_EQ(r.sizes(), (Shape{3, 4}));
  EXPECT_EQ(r.to_vector<double>(), std::vector<double>(12, 0.0));
  EXPECT_EQ(matmul(zeros({0, 5}), zeros({5, 4})).sizes(), (Shape{0, 4}));
  Tensor l = linear(zeros({2, 0}), zeros({3, 0}), tensor({1, 2, 3}));
  EXPECT_EQ(l.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(Linalg, TensorMethodAndAddmmBeta0IgnoresNan) {
  Tensor a = randn({2, 3}), b = randn({3, 2});
  EXPECT_TRUE(close(a.matmul(b), mm(a, b)));
  Tensor nanbias = full({2, 2}, NAN);
  Tensor r = addmm(nanbias, a, b, 0, 1);
  EXPECT_TRUE(close(r, mm(a, b)));
}

TEST(Linalg, Gradcheck) {
  auto g2 = [](auto f) { return [f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }; };
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return matmul(x[0], x[1]); }), {grad_input({2, 1, 3, 4}), grad_input({3, 4, 2})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return matmul(x[0], x[1]); }), {grad_input({4}), grad_input({2, 4, 3})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return matmul(x[0], x[1]); }), {grad_input({2, 3, 4}), grad_input({4})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return matmul(x[0], x[1]); }), {grad_input({5}), grad_input({5})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return matmul(x[0].transpose(1, 2), x[1]); }),
                      {grad_input({2, 4, 3}), grad_input({4, 2})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return mm(x[0], x[1]); }), {grad_input({3, 4}), grad_input({4, 2})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return bmm(x[0], x[1]); }), {grad_input({2, 3, 4}), grad_input({2, 4, 2})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return linear(x[0], x[1], x[2]); }),
                      {grad_input({2, 3, 4}), grad_input({5, 4}), grad_input({5})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return linear(x[0], x[1]); }), {grad_input({4}), grad_input({3, 4})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return addmm(x[0], x[1], x[2], 0.5, 2.0); }),
                      {grad_input({4}), grad_input({3, 2}), grad_input({2, 4})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return einsum("bij,jk->bki", {x[0], x[1]}); }),
                      {grad_input({2, 3, 4}), grad_input({4, 5})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return einsum("abc,cd,de->abe", {x[0], x[1], x[2]}); }),
                      {grad_input({2, 3, 4}), grad_input({4, 2}), grad_input({2, 3})}));
  EXPECT_TRUE(grad_ok(g2([](auto& x) { return einsum("...ij,...jk->...ik", {x[0], x[1]}); }),
                      {grad_input({2, 2, 3}), grad_input({3, 2})}));
}

TEST(Linalg, DoubleBackward) {
  auto f = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{matmul(x[0], x[1])}; };
  EXPECT_TRUE(autograd::gradgradcheck(f, {grad_input({2, 3, 4}), grad_input({4, 2})}).ok);
  // Squared biases: a vjp that does not depend on any input cannot be differentiated again.
  auto l = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{linear(x[0], x[1], mul(x[2], x[2]))}; };
  EXPECT_TRUE(autograd::gradgradcheck(l, {grad_input({3, 4}), grad_input({2, 4}), grad_input({2})}).ok);
  auto am = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{addmm(mul(x[0], x[0]), x[1], x[2], 0.5, 2.0)}; };
  EXPECT_TRUE(autograd::gradgradcheck(am, {grad_input({2, 2}), grad_input({2, 3}), grad_input({3, 2})}).ok);
}

TEST(Linalg, PrimitiveCacheReusesShapes) {
  Tensor a = randn({17, 33}), b = randn({33, 9});
  mm(a, b);
  auto before = cpu::onednn::primitive_cache_stats();
  for (int i = 0; i < 5; ++i) mm(randn({17, 33}), randn({33, 9}));
  auto after = cpu::onednn::primitive_cache_stats();
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_GE(after.hits, before.hits + 5);
  EXPECT_FALSE(cpu::onednn::impl_name("matmul").empty());
}

TEST(Linalg, CostAndChannelRules) {
  const ops::OpDef* d = ops::Registry::get().find("matmul");
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->flops);
  double f = d->flops({{{8, 4, 5}, DType::f32, kCPU}, {{5, 3}, DType::f32, kCPU}}, {{{8, 4, 3}, DType::f32, kCPU}}, {});
  EXPECT_DOUBLE_EQ(f, 2.0 * 8 * 4 * 3 * 5);
  const ops::OpDef* l = ops::Registry::get().find("linear");
  bool found = false;
  for (auto& k : l->channels.links) found |= k.input == 1 && k.input_dim == 0 && k.output_dim == -1;
  EXPECT_TRUE(found);
  EXPECT_TRUE(l->has_kernel(DeviceType::cpu));
}

TEST(Linalg, BadInputs) {
  EXPECT_OP_ERROR("matmul", matmul(randn({2, 3}), randn({4, 2})));
  EXPECT_OP_ERROR("matmul", matmul(full({}, 1.0), randn({2})));
  EXPECT_OP_ERROR("matmul", matmul(randn({3}), randn({4})));
  EXPECT_OP_ERROR("matmul", matmul(randn({2, 2, 3}), randn({3, 3, 2})));
  EXPECT_OP_ERROR("matmul", matmul(randn({2, 3}), randn({3, 2}, {DType::f64})));
  EXPECT_OP_ERROR("matmul", matmul(ones({2, 3}, {DType::i64}), ones({3, 2}, {DType::i64})));
  EXPECT_OP_ERROR("mm", mm(randn({2, 3, 4}), randn({4, 2})));
  EXPECT_OP_ERROR("mm", mm(randn({2, 3}), randn({2, 3})));
  EXPECT_OP_ERROR("bmm", bmm(randn({2, 3}), randn({3, 2})));
  EXPECT_OP_ERROR("bmm", bmm(randn({2, 3, 4}), randn({3, 4, 2})));
  EXPECT_OP_ERROR("linear", linear(randn({2, 3}), randn({4, 5})));
  EXPECT_OP_ERROR("linear", linear(randn({2, 3}), randn({3})));
  EXPECT_OP_ERROR("linear", linear(randn({2, 3}), randn({4, 3}), randn({3})));
  EXPECT_OP_ERROR("addmm", addmm(randn({5}), randn({2, 3}), randn({3, 4})));
  EXPECT_OP_ERROR("addmm", addmm(randn({4}), randn({2, 3}), randn({2, 4})));
  EXPECT_OP_ERROR("einsum", einsum("ij,jk->ik", {randn({2, 3})}));
  EXPECT_OP_ERROR("einsum", einsum("ij->i", {randn({2, 3, 4})}));
  EXPECT_OP_ERROR("einsum", einsum("ij,jk->iz", {randn({2, 3}), randn({3, 2})}));
  EXPECT_OP_ERROR("einsum", einsum("i1->i", {randn({2, 3})}));
  EXPECT_OP_ERROR("einsum", einsum("ij,jk->ik", {randn({2, 3}), randn({4, 2})}));
  EXPECT_OP_ERROR("einsum", einsum("ii->i", {randn({3, 3})}));
}
