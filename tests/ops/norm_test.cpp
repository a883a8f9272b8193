// batch_norm, layer_norm, group_norm, rms_norm: forward vs PyTorch (tests/fixtures/nn.json from
// gen_nn.py), running-statistics updates, gradcheck in f64, bad inputs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/grad_mode.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {
Tensor F(const char* c, const char* k) { return nn_fixture(c, k); }
}  // namespace

TEST(Norm, LayerNormMatchesTorch) {
  EXPECT_TRUE(close(layer_norm(F("layer_norm_affine", "x"), {3, 4}, F("layer_norm_affine", "w"),
                               F("layer_norm_affine", "b")),
                    F("layer_norm_affine", "out"), 1e-5, 1e-5));
  EXPECT_TRUE(close(layer_norm(F("layer_norm_plain", "x"), {7}), F("layer_norm_plain", "out"), 1e-5, 1e-5));
}

TEST(Norm, RmsNormMatchesTorch) {
  EXPECT_TRUE(close(rms_norm(F("rms_norm_affine", "x"), {5}, F("rms_norm_affine", "w"), 1e-6),
                    F("rms_norm_affine", "out"), 1e-5, 1e-5));
  EXPECT_TRUE(close(rms_norm(F("rms_norm_default_eps", "x"), {2, 6}), F("rms_norm_default_eps", "out"),
                    1e-5, 1e-5));
}

TEST(Norm, GroupNormMatchesTorch) {
  EXPECT_TRUE(close(group_norm(F("group_norm", "x"), 3, F("group_norm", "w"), F("group_norm", "b")),
                    F("group_norm", "out"), 1e-5, 1e-5));
}

TEST(Norm, BatchNormTrainUpdatesRunningStats) {
  const char* c = "batch_norm_train";
  Tensor rm = F(c, "rm"), rv = F(c, "rv");
  Tensor y = batch_norm(F(c, "x"), F(c, "w"), F(c, "b"), rm, rv, true, 0.1, 1e-5);
  EXPECT_TRUE(close(y, F(c, "out"), 1e-5, 1e-5));
  EXPECT_TRUE(close(rm, F(c, "rm_after"), 1e-5, 1e-6));
  EXPECT_TRUE(close(rv, F(c, "rv_after"), 1e-5, 1e-6));
  EXPECT_FALSE(rm.requires_grad());

  const char* p = "batch_norm_2d_plain";
  Tensor rm2 = zeros({3}), rv2 = ones({3});
  EXPECT_TRUE(close(batch_norm(F(p, "x"), {}, {}, rm2, rv2, true, 0.3, 1e-3), F(p, "out"), 1e-5, 1e-5));
  EXPECT_TRUE(close(rm2, F(p, "rm_after"), 1e-5, 1e-6));
  EXPECT_TRUE(close(rv2, F(p, "rv_after"), 1e-5, 1e-6));
}

TEST(Norm, BatchNormEvalUsesRunningStats) {
  const char* c = "batch_norm_eval";
  Tensor rm = F(c, "rm"), rv = F(c, "rv");
  Tensor y = batch_norm(F(c, "x"), F(c, "w"), F(c, "b"), rm, rv, false);
  EXPECT_TRUE(close(y, F(c, "out"), 1e-5, 1e-5));
  EXPECT_TRUE(equal(rm, F(c, "rm")));  // untouched in eval
}

TEST(Norm, BatchNormRunningStatsNeedNoGradAndKeepGraph) {
  Tensor x = randn({4, 3, 2}).requires_grad_();
  Tensor w = ones({3}).requires_grad_();
  Tensor rm = zeros({3}), rv = ones({3});
  Tensor y = batch_norm(x, w, {}, rm, rv, true);
  sum(mul(y, y)).backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(rm.requires_grad());
  EXPECT_FALSE(rv.requires_grad());
}

TEST(Norm, HalfPrecisionAccumulatesInFloat) {
  Tensor x = add(mul(randn({4, 64}), 3.0), 1.0);
  Tensor ref = layer_norm(x, {64});
  Tensor h = cast(layer_norm(cast(x, DType::bf16), {64}), DType::f32);
  EXPECT_TRUE(close(h, ref, 0.05, 0.05));
}

TEST(Norm, Gradcheck) {
  Tensor x = grad_input({2, 3, 4}), w = grad_input({3, 4}), b = grad_input({3, 4});
  EXPECT_TRUE(grad_ok([](auto& in) { return std::vector<Tensor>{layer_norm(in[0], {3, 4}, in[1], in[2])}; },
                      {x, w, b}));
  Tensor w1 = grad_input({4});
  EXPECT_TRUE(grad_ok([](auto& in) { return std::vector<Tensor>{rms_norm(in[0], {4}, in[1], 1e-5)}; },
                      {x, w1}));
  Tensor xg = grad_input({2, 6, 3}), wg = grad_input({6}), bg = grad_input({6});
  EXPECT_TRUE(grad_ok([](auto& in) { return std::vector<Tensor>{group_norm(in[0], 2, in[1], in[2])}; },
                      {xg, wg, bg}));
  Tensor xb = grad_input({4, 3, 2}), wb = grad_input({3}), bb = grad_input({3});
  EXPECT_TRUE(grad_ok([](auto& in) {
    return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], {}, {}, true)};
  }, {xb, wb, bb}));
  Tensor rm = rand({3}, {DType::f64}), rv = add(rand({3}, {DType::f64}), 0.5);
  EXPECT_TRUE(grad_ok([&](auto& in) {
    return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], rm, rv, false)};
  }, {xb, wb, bb}));
}

TEST(Norm, DoubleBackward) {
  // layer_norm/rms_norm backward are fused ops whose own backward is written in public ops.
  Tensor x = grad_input({3, 5}), w = grad_input({5}), b = grad_input({5});
  EXPECT_TRUE(gradgrad_ok([](auto& in) { return std::vector<Tensor>{layer_norm(in[0], {5}, in[1], in[2])}; },
                          {x, w, b}));
  Tensor x3 = grad_input({2, 2, 3}), w3 = grad_input({2, 3});
  EXPECT_TRUE(gradgrad_ok([](auto& in) { return std::vector<Tensor>{rms_norm(in[0], {2, 3}, in[1], 1e-3)}; },
                          {x3, w3}));
  Tensor xg = grad_input({2, 4, 2}), wg = grad_input({4});
  EXPECT_TRUE(gradgrad_ok([](auto& in) { return std::vector<Tensor>{group_norm(in[0], 2, in[1])}; }, {xg, wg}));
  EXPECT_TRUE(gradgrad_ok([](auto& in) {
    return std::vector<Tensor>{batch_norm(in[0], in[1], {}, {}, {}, true)};
  }, {xg, wg}));
}

// Without create_graph the CPU runs batch_norm's fused backward kernel; with it, the composite
// of public ops (differentiable). Both must give the same gradients, in either memory format.
TEST(Norm, BatchNormFusedBackwardMatchesComposite) {
  for (auto fmt : {MemoryFormat::contiguous, MemoryFormat::channels_last}) {
    Tensor x = add(mul(randn({5, 7, 6, 3}), 2.0), 0.5).contiguous(fmt).requires_grad_(true);
    Tensor w = randn({7}).requires_grad_(true), b = randn({7}).requires_grad_(true);
    Tensor g = randn({5, 7, 6, 3});
    auto grads = [&](bool create_graph) {
      Tensor y = batch_norm(x, w, b, {}, {}, true);
      return autograd::grad({y}, {x, w, b}, {g}, false, create_graph);
    };
    auto fused = grads(false), composite = grads(true);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_TRUE(close(fused[i], composite[i].detach(), 1e-4, 1e-4)) << i;
  }
}

TEST(Norm, BadInputsNameTheOp) {
  Tensor x = randn({2, 3, 4});
  EXPECT_OP_ERROR("layer_norm", layer_norm(x, {5}));
  EXPECT_OP_ERROR("layer_norm", layer_norm(x, {4}, ones({3})));
  EXPECT_OP_ERROR("layer_norm", layer_norm(x, {4}, {}, {}, -1.0));
  EXPECT_OP_ERROR("layer_norm", layer_norm(arange(4), {4}));
  EXPECT_OP_ERROR("rms_norm", rms_norm(x, {3}));
  EXPECT_OP_ERROR("rms_norm", rms_norm(x, {4}, ones({4}, {DType::i64})));
  EXPECT_OP_ERROR("group_norm", group_norm(x, 2));
  EXPECT_OP_ERROR("group_norm", group_norm(randn({3}), 1));
  EXPECT_OP_ERROR("group_norm", group_norm(x, 3, ones({4})));
  EXPECT_OP_ERROR("batch_norm", batch_norm(randn({3}), {}, {}, {}, {}, true));
  EXPECT_OP_ERROR("batch_norm", batch_norm(x, {}, {}, {}, {}, false));
  EXPECT_OP_ERROR("batch_norm", batch_norm(x, ones({4}), {}, {}, {}, true));
  EXPECT_OP_ERROR("batch_norm", batch_norm(x, {}, {}, zeros({2}), ones({2}), true));
  EXPECT_OP_ERROR("batch_norm", batch_norm(randn({1, 3}), {}, {}, {}, {}, true));
  EXPECT_OP_ERROR("batch_norm", batch_norm(x, {}, {}, zeros({3}), ones({3}), true, 0.1, -1e-5));
}

TEST(Norm, NonContiguousInput) {
  Tensor x = randn({4, 6});
  Tensor xt = transpose(x, 0, 1);  // (6, 4), non-contiguous
  EXPECT_TRUE(close(layer_norm(xt, {4}), layer_norm(contiguous(xt), {4})));
}

// Timing (label slow): forward and forward+backward per norm on a transformer-sized input.
TEST(NormSlow, Timing) {
  auto time_ms = [](auto&& f, int iters = 20) {
    f();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
  };
  Tensor x = randn({4096, 1024}), w = randn({1024}), b = randn({1024});
  Tensor xi = randn({32, 64, 28, 28}), wc = randn({64}), bc = randn({64});
  Tensor rm = zeros({64}), rv = ones({64});
  struct Case { const char* name; std::function<Tensor(const Tensor&)> f; Tensor in; };
  std::vector<Case> cases = {
      {"layer_norm 4096x1024", [&](const Tensor& t) { return layer_norm(t, {1024}, w, b); }, x},
      {"rms_norm 4096x1024", [&](const Tensor& t) { return rms_norm(t, {1024}, w, 1e-6); }, x},
      {"group_norm 32x64x28x28 g=8", [&](const Tensor& t) { return group_norm(t, 8, wc, bc); }, xi},
      {"batch_norm 32x64x28x28 train", [&](const Tensor& t) { return batch_norm(t, wc, bc, rm, rv, true); }, xi},
  };
  for (auto& c : cases) {
    double fwd = time_ms([&] { c.f(c.in); });
    Tensor xg = c.in.detach().requires_grad_(true);
    Tensor go = randn(c.in.sizes());
    double fb = time_ms([&] { c.f(xg).backward(go); });
    std::printf("%-32s fwd %8.3f ms  fwd+bwd %8.3f ms\n", c.name, fwd, fb);
  }
}
