// conv1d / conv2d / conv_transpose2d: forward against PyTorch fixtures (tests/fixtures/
// gen_conv.py), oneDNN f32 against the f64 im2col+dgemm path (forward and both gradients),
// non-contiguous inputs, half precision, gradcheck and double backward, caches, bad inputs.
#include <random>

#include "deepseek/backend/cpu/capability.h"
#include "deepseek/backend/cpu/onednn/onednn.h"
#include "deepseek/ops/linalg_backward.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;
using nlohmann::json;
using Ints = std::vector<int64_t>;

namespace {
const json& fixtures() {
  static json j = load_fixture("conv.json");
  return j.at("cases");
}
std::vector<Tensor> inputs_of(const json& c) {
  std::vector<Tensor> r;
  for (auto& x : c.at("inputs")) r.push_back(tensor_from_json(x));
  return r;
}
Tensor opt(const std::vector<Tensor>& v, size_t i) { return v.size() > i ? v[i] : Tensor(); }
Tensor run_case(const json& c, const std::vector<Tensor>& in) {
  const json& a = c.at("attrs");
  std::string op = c.at("op");
  if (op == "conv2d") {
    if (a.at("padding").is_string())
      return conv2d(in[0], in[1], opt(in, 2), a.at("stride").get<Ints>(), a.at("padding").get<std::string>(),
                    a.at("dilation").get<Ints>(), a.at("groups").get<int64_t>());
    return conv2d(in[0], in[1], opt(in, 2), a.at("stride").get<Ints>(), a.at("padding").get<Ints>(),
                  a.at("dilation").get<Ints>(), a.at("groups").get<int64_t>());
  }
  if (op == "conv1d")
    return conv1d(in[0], in[1], opt(in, 2), a.at("stride"), a.at("padding"), a.at("dilation"), a.at("groups"));
  return conv_transpose2d(in[0], in[1], opt(in, 2), a.at("stride").get<Ints>(), a.at("padding").get<Ints>(),
                          a.at("output_padding").get<Ints>(), a.at("groups").get<int64_t>(),
                          a.at("dilation").get<Ints>());
}
}  // namespace

TEST(Conv, ForwardMatchesPyTorch) {
  const json& cs = fixtures();
  for (auto it = cs.begin(); it != cs.end(); ++it) {
    auto in = inputs_of(*it);
    Tensor want = tensor_from_json(it->at("out"));
    EXPECT_TRUE(close(run_case(*it, in), want, 1e-4, 1e-4)) << it.key();
    // The f64 path (im2col + dgemm) on the same values.
    std::vector<Tensor> in64;
    for (auto& t : in) in64.push_back(t.to(DType::f64));
    EXPECT_TRUE(close(run_case(*it, in64), want, 1e-5, 1e-5)) << it.key() << " (f64)";
  }
}

TEST(Conv, NonContiguousInputs) {
  Tensor x = randn({2, 5, 6, 3}).permute({0, 3, 1, 2});  // (2, 3, 5, 6), channels-last strides
  Tensor wt = randn({3, 3, 3, 4}).permute({3, 0, 1, 2});  // (4, 3, 3, 3), non-contiguous
  Tensor ref = conv2d(contiguous(x), contiguous(wt), {}, {1, 1}, {1, 1});
  EXPECT_TRUE(close(conv2d(x, wt, {}, {1, 1}, {1, 1}), ref, 1e-5, 1e-5));
  Tensor xs = randn({2, 3, 10, 12}).slice(2, 0, 10, 2).slice(3, 0, 12, 2);  // strided window
  EXPECT_TRUE(close(conv2d(xs, wt, {}, {1, 1}, {1, 1}), conv2d(contiguous(xs), wt, {}, {1, 1}, {1, 1}), 1e-5, 1e-5));
}

// f32 oneDNN gradients against the f64 reference path on identical values.
TEST(Conv, OneDnnGradientsMatchReference) {
  struct Cfg {
    Shape x, w;
    Ints stride, pad, pad_r, dil;
    int64_t groups;
  };
  std::vector<Cfg> cfgs = {
      {{2, 4, 9, 8}, {6, 4, 3, 3}, {1, 1}, {1, 1}, {}, {1, 1}, 1},
      {{2, 4, 9, 8}, {6, 2, 3, 2}, {2, 3}, {1, 0}, {}, {2, 1}, 2},
      {{1, 6, 7, 7}, {6, 1, 3, 3}, {2, 2}, {1, 1}, {}, {1, 1}, 6},   // depthwise
      {{1, 3, 8, 8}, {5, 3, 3, 3}, {3, 3}, {0, 0}, {}, {1, 1}, 1},   // rows no window reaches
      {{1, 3, 6, 7}, {2, 3, 4, 2}, {1, 1}, {1, 0}, {2, 1}, {1, 1}, 1},  // asymmetric ('same', even kernel)
  };
  for (auto& c : cfgs) {
    Ints pr = c.pad_r.empty() ? c.pad : c.pad_r;
    Shape ys{c.x[0], c.w[0], 0, 0};
    for (int i = 0; i < 2; ++i)
      ys[2 + i] = (c.x[2 + i] + c.pad[i] + pr[i] - c.dil[i] * (c.w[2 + i] - 1) - 1) / c.stride[i] + 1;
    Tensor x = randn(c.x), w = randn(c.w), g = randn(ys);
    auto bwd = [&](DType t) {
      Tensor gx = conv2d_backward_input(g.to(t), w.to(t), c.x, c.stride, c.pad, c.dil, c.groups, pr);
      Tensor gw = conv2d_backward_weight(g.to(t), x.to(t), c.w, c.stride, c.pad, c.dil, c.groups, pr);
      return std::make_pair(gx, gw);
    };
    auto [gx32, gw32] = bwd(DType::f32);
    auto [gx64, gw64] = bwd(DType::f64);
    EXPECT_TRUE(close(gx32, gx64, 1e-4, 1e-4)) << to_string(c.x) << " grad input";
    EXPECT_TRUE(close(gw32, gw64, 1e-4, 1e-3)) << to_string(c.x) << " grad weight";
    if (c.pad_r.empty()) {
      Tensor y32 = conv2d(x, w, {}, c.stride, c.pad, c.dil, c.groups);
      Tensor y64 = conv2d(x.to(DType::f64), w.to(DType::f64), {}, c.stride, c.pad, c.dil, c.groups);
      EXPECT_TRUE(close(y32, y64, 1e-4, 1e-4)) << to_string(c.x) << " forward";
    }
  }
}

namespace {
// Whether 3x3 f32 convolutions may take our Winograd kernels here (as backend/cpu/onednn/conv.cpp).
bool winograd_on() {
  const char* off = std::getenv("DEEPSEEK_CPU_WINOGRAD");
  return std::string(cpu::cpu_capability()) == "avx2" && !(off && std::string(off) == "0");
}
}  // namespace

// 3x3 stride-1 f32 convolutions with enough channels take Winograd's F(4x4, 3x3) on AVX2 CPUs
// (all three directions) when the batch has >= 128 tiles: against the f64 path, with ragged tiles, channels that are not whole
// vectors, every padding 0-2, asymmetric padding, a bias, and channels_last activations and weights.
TEST(Conv, WinogradMatchesReference) {
  struct Cfg {
    Shape x;
    int64_t oc;
    Ints pad, pad_r;
  };
  std::vector<Cfg> cfgs = {
      {{2, 32, 29, 35}, 40, {1, 1}, {}},  {{4, 35, 26, 26}, 33, {0, 0}, {}}, {{2, 32, 30, 31}, 32, {2, 2}, {}},
      {{2, 32, 34, 33}, 32, {1, 2}, {}}, {{2, 40, 33, 34}, 48, {1, 1}, {2, 1}},
      {{2, 130, 32, 32}, 140, {1, 1}, {}},  // many channels: the team splits the 36 GEMMs
  };
  for (auto& c : cfgs) {
    Ints pr = c.pad_r.empty() ? c.pad : c.pad_r;
    Shape ws{c.oc, c.x[1], 3, 3}, ys{c.x[0], c.oc, c.x[2] + c.pad[0] + pr[0] - 2, c.x[3] + c.pad[1] + pr[1] - 2};
    Tensor x = randn(c.x), w = randn(ws), b = randn({c.oc}), g = randn(ys);
    const std::string what = to_string(c.x) + " pad " + to_string(Shape(c.pad)) + "/" + to_string(Shape(pr));
    auto run = [&](DType t) {
      Tensor y = conv2d(x.to(t), w.to(t), b.to(t), Ints{1, 1}, c.pad);  // forward: symmetric padding
      Tensor gx = conv2d_backward_input(g.to(t), w.to(t), c.x, {1, 1}, c.pad, {1, 1}, 1, pr);
      Tensor gw = conv2d_backward_weight(g.to(t), x.to(t), ws, {1, 1}, c.pad, {1, 1}, 1, pr);
      return std::make_tuple(y, gx, gw);
    };
    auto [y32, gx32, gw32] = run(DType::f32);
    if (winograd_on()) {
      for (const char* k : {"conv_fwd", "conv_bwd_data", "conv_bwd_weights"})
        EXPECT_EQ(cpu::onednn::impl_name(k), "deepseek winograd f(4x4,3x3) avx2") << what << " " << k;
    }
    auto [y64, gx64, gw64] = run(DType::f64);
    // Winograd's rounding error scales with the largest values of a result, not with each one
    // (as a GEMM's): the bound is 2e-5 of the largest magnitude (direct convolution: ~1e-6).
    auto near = [](const Tensor& a, const Tensor& ref) {
      return close(a, ref, 1e-4, 2e-5 * max(abs(ref)).item<double>());
    };
    EXPECT_TRUE(near(y32, y64)) << what << " forward";
    EXPECT_TRUE(near(gx32, gx64)) << what << " grad input";
    EXPECT_TRUE(near(gw32, gw64)) << what << " grad weight";
    // channels_last activations (and weights) are read and written in place, as NHWC
    const auto cl = MemoryFormat::channels_last;
    for (bool w_cl : {false, true}) {
      Tensor xc = x.contiguous(cl), wc = w_cl ? w.contiguous(cl) : w, gc = g.contiguous(cl);
      Tensor y = conv2d(xc, wc, b, Ints{1, 1}, c.pad);
      Tensor gx = conv2d_backward_input(gc, wc, c.x, {1, 1}, c.pad, {1, 1}, 1, pr);
      Tensor gw = conv2d_backward_weight(gc, xc, ws, {1, 1}, c.pad, {1, 1}, 1, pr);
      if (winograd_on())
        for (const char* k : {"conv_fwd", "conv_bwd_data", "conv_bwd_weights"})
          EXPECT_EQ(cpu::onednn::impl_name(k), "deepseek winograd f(4x4,3x3) avx2") << what << " NHWC " << k;
      EXPECT_TRUE(y.is_contiguous(cl) && gx.is_contiguous(cl)) << what;
      EXPECT_TRUE(near(y, y64)) << what << " NHWC forward, weights NHWC " << w_cl;
      EXPECT_TRUE(near(gx, gx64)) << what << " NHWC grad input, weights NHWC " << w_cl;
      EXPECT_TRUE(near(gw, gw64)) << what << " NHWC grad weight, weights NHWC " << w_cl;
    }
  }
}

// Seeded random 3x3 stride-1 shapes around the Winograd thresholds (batch, channels, sizes,
// pads, asymmetric pads, NCHW or channels_last): whichever kernel runs, the three directions
// match the f64 path to 2e-5 of the largest magnitude.
TEST(Conv, RandomThreeByThreeShapesMatchReference) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return int64_t{std::uniform_int_distribution<int>(lo, hi)(rng)}; };
  auto f64 = [](const Tensor& t) { return t.to(DType::f64); };
  auto near = [](const Tensor& a, const Tensor& ref) {
    return close(a, ref, 1e-4, 2e-5 * max(abs(ref)).item<double>());
  };
  int winograd = 0;  // shapes whose forward took it
  for (int i = 0; i < 16; ++i) {
    const int64_t n = pick(2, 8), c = pick(24, 72), oc = pick(24, 72), h = pick(5, 32), w = pick(5, 32);
    const Ints pad{pick(0, 2), pick(0, 2)}, pr{pick(0, 2), pick(0, 2)};
    const bool cl = pick(0, 1);
    Tensor x = randn({n, c, h, w}), wt = randn({oc, c, 3, 3}), b = randn({oc});
    Tensor g = randn({n, oc, h + pad[0] + pr[0] - 2, w + pad[1] + pr[1] - 2});
    Tensor xi = cl ? x.contiguous(MemoryFormat::channels_last) : x, gi = cl ? g.contiguous(MemoryFormat::channels_last) : g;
    const std::string what = to_string(x.sizes()) + " -> " + std::to_string(oc) + " pad " + to_string(Shape(pad)) +
                             "/" + to_string(Shape(pr)) + (cl ? " channels_last" : "");
    EXPECT_TRUE(near(conv2d(xi, wt, b, Ints{1, 1}, pad), conv2d(f64(x), f64(wt), f64(b), Ints{1, 1}, pad))) << what;
    winograd += cpu::onednn::impl_name("conv_fwd").find("winograd") != std::string::npos;
    EXPECT_TRUE(near(conv2d_backward_input(gi, wt, x.sizes(), {1, 1}, pad, {1, 1}, 1, pr),
                     conv2d_backward_input(f64(g), f64(wt), x.sizes(), {1, 1}, pad, {1, 1}, 1, pr)))
        << what << " grad input";
    EXPECT_TRUE(near(conv2d_backward_weight(gi, xi, wt.sizes(), {1, 1}, pad, {1, 1}, 1, pr),
                     conv2d_backward_weight(f64(g), f64(x), wt.sizes(), {1, 1}, pad, {1, 1}, 1, pr)))
        << what << " grad weight";
  }
  if (winograd_on()) EXPECT_GE(winograd, 3);
}

TEST(Conv, HalfPrecisionThroughF32) {
  Tensor x = randn({1, 3, 6, 6}), w = randn({4, 3, 3, 3}), b = randn({4});
  Tensor ref = conv2d(x, w, b, {1, 1}, {1, 1});
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor r = conv2d(x.to(t), w.to(t), b.to(t), {1, 1}, {1, 1});
    EXPECT_EQ(r.dtype(), t);
    EXPECT_TRUE(close(r, ref, 5e-2, 1e-1)) << dtype_name(t);
  }
}

TEST(Conv, Gradcheck) {
  auto f = [](auto fn) { return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x)}; }; };
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}, {1, 2}, 1); }),
                      {grad_input({2, 2, 5, 6}), grad_input({3, 2, 3, 2}), grad_input({3})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv2d(x[0], x[1], {}, {1, 1}, {0, 0}, {1, 1}, 2); }),
                      {grad_input({1, 4, 4, 4}), grad_input({2, 2, 2, 2})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv2d(x[0], x[1], x[2], {1, 1}, "same", {2, 1}, 1); }),
                      {grad_input({1, 2, 5, 5}), grad_input({2, 2, 2, 4}), grad_input({2})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv2d(x[0], x[1], {}, {3, 3}, {0, 0}, {1, 1}, 1); }),
                      {grad_input({1, 2, 7, 8}), grad_input({2, 2, 2, 2})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv1d(x[0], x[1], x[2], 2, 1, 2, 1); }),
                      {grad_input({2, 2, 9}), grad_input({3, 2, 3}), grad_input({3})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1}, 1, {1, 1}); }),
                      {grad_input({1, 2, 3, 3}), grad_input({2, 3, 3, 3}), grad_input({3})}));
  EXPECT_TRUE(grad_ok(f([](auto& x) { return conv_transpose2d(x[0], x[1], {}, {1, 2}, {0, 1}, {0, 1}, 2, {2, 1}); }),
                      {grad_input({1, 4, 3, 3}), grad_input({4, 1, 2, 3})}));
}

TEST(Conv, DoubleBackward) {
  auto c = [](const std::vector<Tensor>& x) {
    return std::vector<Tensor>{conv2d(x[0], x[1], mul(x[2], x[2]), {2, 1}, {1, 0}, {1, 1}, 1)};
  };
  EXPECT_TRUE(autograd::gradgradcheck(c, {grad_input({1, 2, 5, 4}), grad_input({2, 2, 3, 2}), grad_input({2})}).ok);
  auto t = [](const std::vector<Tensor>& x) {
    return std::vector<Tensor>{conv_transpose2d(x[0], x[1], {}, {2, 2}, {0, 0}, {1, 1}, 1, {1, 1})};
  };
  EXPECT_TRUE(autograd::gradgradcheck(t, {grad_input({1, 2, 3, 2}), grad_input({2, 2, 2, 2})}).ok);
}

TEST(Conv, WeightReorderCacheSeesInPlaceWrites) {
  Tensor x = randn({2, 8, 8, 8}), w = randn({8, 8, 3, 3});  // few channels: oneDNN, not Winograd
  Tensor y1 = conv2d(x, w, {}, {1, 1}, {1, 1});
  auto s0 = cpu::onednn::weight_cache_stats();
  Tensor y2 = conv2d(x, w, {}, {1, 1}, {1, 1});
  auto s1 = cpu::onednn::weight_cache_stats();
  EXPECT_TRUE(close(y1, y2, 0, 0));
  w.mul_(2.0);  // bumps the version: the cached reorder must not be used
  Tensor y3 = conv2d(x, w, {}, {1, 1}, {1, 1});
  EXPECT_TRUE(close(y3, mul(y1, 2.0), 1e-5, 1e-5));
  auto s2 = cpu::onednn::weight_cache_stats();
  if (s0.misses + s0.hits > 0) {  // only when oneDNN chose a layout other than the user's
    EXPECT_EQ(s1.hits, s0.hits + 1);
    EXPECT_EQ(s2.misses, s1.misses + 1);
  }
  EXPECT_FALSE(cpu::onednn::impl_name("conv_fwd").empty());
}

TEST(Conv, BadInputs) {
  Tensor x = randn({1, 4, 6, 6}), w = randn({4, 4, 3, 3});
  EXPECT_OP_ERROR("conv2d", conv2d(randn({4, 6, 6}), w));
  EXPECT_OP_ERROR("conv2d", conv2d(x, randn({4, 4, 3})));
  EXPECT_OP_ERROR("conv2d", conv2d(x, randn({4, 3, 3, 3})));
  EXPECT_OP_ERROR("conv2d", conv2d(x, randn({6, 2, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 3));
  EXPECT_OP_ERROR("conv2d", conv2d(x, randn({3, 2, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 2));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 1}, 0));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {0, 1}));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {1, 1}, {-1, 0}));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {1, 1}, {0, 0}, {0, 1}));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, randn({3})));
  EXPECT_OP_ERROR("conv2d", conv2d(x, randn({4, 4, 7, 7})));
  EXPECT_OP_ERROR("conv2d", conv2d(randn({1, 4, 0, 6}), w));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w.to(DType::f64)));
  EXPECT_OP_ERROR("conv2d", conv2d(ones({1, 4, 6, 6}, {DType::i64}), ones({4, 4, 3, 3}, {DType::i64})));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {2, 2}, "same"));
  EXPECT_OP_ERROR("conv2d", conv2d(x, w, {}, {1, 1}, "full"));
  EXPECT_OP_ERROR("conv1d", conv1d(x, randn({4, 4, 3})));
  EXPECT_OP_ERROR("conv1d", conv1d(randn({1, 4, 6}), randn({4, 3, 3})));
  EXPECT_OP_ERROR("conv_transpose2d", conv_transpose2d(x, randn({3, 4, 3, 3})));
  EXPECT_OP_ERROR("conv_transpose2d", conv_transpose2d(x, w, {}, {1, 1}, {0, 0}, {1, 1}));
  EXPECT_OP_ERROR("conv_transpose2d", conv_transpose2d(randn({4, 6, 6}), w));
}
