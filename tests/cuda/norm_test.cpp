// CUDA normalization kernels against the CPU: layer_norm, rms_norm (forward with the saved
// statistics, fused backward), group_norm and batch_norm (training statistics, eval, the
// running-statistics update), every floating dtype, short and long rows, and gradients
// (which also run the reduction kernels through the public backward ops).
#include <cmath>

#include "deepseek/ops/dispatcher.h"
#include "tests/cuda/compare_util.h"

namespace deepseek::testing {
namespace {

const std::vector<DType> kFloats = {DType::f32, DType::f64, DType::f16, DType::bf16};

Tensor rnd(const Shape& s, DType t, double scale = 1, double shift = 0) {
  return add(mul(randn(s), scale), shift).to(t);
}

// The raw op with all its outputs (y and the statistics).
std::vector<Tensor> raw(const char* op, const std::vector<Tensor>& in, const ops::Attrs& a) {
  return ops::dispatch(ops::op_id(op), in, a);
}

TEST(CudaNorm, LayerNormForwardWithStats) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    for (Shape s : {Shape{4, 7}, Shape{3, 5, 64}, Shape{2, 768}, Shape{3, 5000}, Shape{1000, 33}}) {
      Tensor x = rnd(s, t, 2.0, 0.5), w = rnd({s.back()}, t), b = rnd({s.back()}, t);
      expect_match([](auto& in) {
        return raw("layer_norm", in, ops::Attrs().set("normalized_ndim", ops::AttrValue(int64_t(1)))
                                         .set("eps", ops::AttrValue(1e-5)));
      }, {x, w, b}, std::string(dtype_name(t)) + " " + to_string(s));
      expect_match([](auto& in) {
        return raw("rms_norm", {in[0], in[1]}, ops::Attrs().set("normalized_ndim", ops::AttrValue(int64_t(1)))
                                                   .set("eps", ops::AttrValue(1e-6)));
      }, {x, w}, std::string("rms ") + dtype_name(t) + " " + to_string(s));
    }
    // two normalized dims, default weight / bias, non-contiguous input
    Tensor x = rnd({4, 6, 5}, t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{layer_norm(in[0], {6, 5}), layer_norm(in[0].transpose(0, 2), {4}),
                                 rms_norm(in[0], {6, 5}), rms_norm(in[0].transpose(1, 2), {6}, {}, 1e-3)};
    }, {x}, dtype_name(t));
  }
  // empty rows and no rows
  expect_match([](auto& in) {
    return raw("layer_norm", in, ops::Attrs().set("normalized_ndim", ops::AttrValue(int64_t(1)))
                                     .set("eps", ops::AttrValue(1e-5)));
  }, {randn({3, 0}), randn({0}), randn({0})});
  expect_match([](auto& in) { return std::vector<Tensor>{layer_norm(in[0], {4}), rms_norm(in[0], {4})}; },
               {randn({0, 4})});
}

TEST(CudaNorm, LayerNormRmsNormBackwardKernels) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    for (Shape s : {Shape{4, 7}, Shape{300, 40}, Shape{3, 3000}, Shape{2000, 8}}) {
      int64_t n = s.back();
      Tensor x = rnd(s, t), w = rnd({n}, t), g = rnd(s, t);
      Tensor xf = x.to(DType::f64);
      DType sd = t == DType::f64 ? DType::f64 : DType::f32;
      Tensor mu = mean(xf, {-1}, true).to(sd);
      Tensor rs = rsqrt(add(var(xf, {-1}, 0, true), 1e-5)).to(sd);
      Tensor rrs = rsqrt(add(mean(mul(xf, xf), {-1}, true), 1e-5)).to(sd);
      ops::Attrs a = ops::Attrs().set("normalized_ndim", ops::AttrValue(int64_t(1)));
      expect_match([a](auto& in) { return raw("layer_norm_backward", in, a); }, {g, x, mu, rs, w},
                   std::string(dtype_name(t)) + " " + to_string(s));
      expect_match([a](auto& in) { return raw("rms_norm_backward", in, a); }, {g, x, rrs, w},
                   std::string("rms ") + dtype_name(t) + " " + to_string(s));
    }
  }
}

TEST(CudaNorm, LayerNormRmsNormGradients) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64}) {
    Tensor x = rnd({6, 5, 40}, t), w = rnd({40}, t), b = rnd({40}, t);
    expect_cuda_grads_match_cpu([](auto& in) { return layer_norm(in[0], {40}, in[1], in[2]); }, {x, w, b}, 1e-4,
                                1e-5);
    expect_cuda_grads_match_cpu([](auto& in) { return rms_norm(in[0], {40}, in[1]); }, {x, w}, 1e-4, 1e-5);
    expect_cuda_grads_match_cpu([](auto& in) { return layer_norm(in[0], {5, 40}); }, {x}, 1e-4, 1e-5);
  }
  Tensor x = rnd({8, 2048}, DType::f32);
  expect_cuda_grads_match_cpu([](auto& in) { return layer_norm(in[0], {2048}); }, {x}, 1e-4, 1e-5);
}

TEST(CudaNorm, GroupNorm) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    for (auto [s, groups] : std::vector<std::pair<Shape, int64_t>>{
             {{2, 6, 5, 4}, 3}, {{3, 8, 10}, 8}, {{2, 4}, 2}, {{2, 32, 40, 40}, 4}, {{1, 6, 3}, 1}}) {
      Tensor x = rnd(s, t, 1.5, 0.3), w = rnd({s[1]}, t), b = rnd({s[1]}, t);
      expect_match([groups](auto& in) {
        return raw("group_norm", in, ops::Attrs().set("groups", ops::AttrValue(groups)).set("eps", ops::AttrValue(1e-5)));
      }, {x, w, b}, std::string(dtype_name(t)) + " " + to_string(s));
    }
  }
  Tensor x = rnd({4, 6, 7}, DType::f32), w = rnd({6}, DType::f32), b = rnd({6}, DType::f32);
  expect_cuda_grads_match_cpu([](auto& in) { return group_norm(in[0], 3, in[1], in[2]); }, {x, w, b}, 1e-4, 1e-5);
  expect_cuda_grads_match_cpu([](auto& in) { return group_norm(in[0], 2); }, {x.to(DType::f64)});
}

TEST(CudaNorm, BatchNormTrainingAndEval) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    DType sd = t == DType::f64 ? DType::f64 : DType::f32;
    for (Shape s : {Shape{4, 3}, Shape{2, 5, 7}, Shape{8, 16, 12, 12}, Shape{3, 2, 20000}, Shape{1000, 4}}) {
      int64_t c = s[1];
      Tensor x = rnd(s, t, 2.0, 1.0), w = rnd({c}, t), b = rnd({c}, t);
      Tensor rm = rnd({c}, sd), rv = add(rand({c}), 0.5).to(sd);
      for (bool training : {true, false})
        expect_match([training](auto& in) {
          return raw("batch_norm", in, ops::Attrs().set("training", ops::AttrValue(training))
                                           .set("eps", ops::AttrValue(1e-5)));
        }, {x, w, b, rm, rv}, std::string(dtype_name(t)) + " " + to_string(s) + (training ? " train" : " eval"));
    }
  }
  // the public function updates the running statistics in place
  Tensor x = rnd({6, 4, 5, 5}, DType::f32, 2.0, 1.0);
  auto run = [&](Device d) {
    Tensor rm = zeros({4}, {DType::f32, d}), rv = ones({4}, {DType::f32, d});
    Tensor y = batch_norm(x.to(d), {}, {}, rm, rv, true, 0.3);
    return std::vector<Tensor>{y.to(kCPU), rm.to(kCPU), rv.to(kCPU)};
  };
  auto ref = run(kCPU), got = run(kCuda);
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(close(got[i], ref[i], 1e-4, 1e-5)) << "output " << i;
  // gradients (training and eval)
  Tensor w = rnd({4}, DType::f32), b = rnd({4}, DType::f32);
  expect_cuda_grads_match_cpu([](auto& in) { return batch_norm(in[0], in[1], in[2], {}, {}, true); }, {x, w, b},
                              1e-4, 1e-5);
  expect_cuda_grads_match_cpu([](auto& in) {
    Tensor rm = full({4}, 0.5, {DType::f32, in[0].device()}), rv = full({4}, 2.0, {DType::f32, in[0].device()});
    return batch_norm(in[0], in[1], in[2], rm, rv, false);
  }, {x, w, b}, 1e-4, 1e-5);
}

}  // namespace
}  // namespace deepseek::testing

namespace deepseek::testing {
namespace {

// batch_norm's backward on CUDA runs the fused batch_norm_backward kernel: large channels,
// several splits per channel, f32 and bf16 (statistics and sums in f32).
TEST(CudaNorm, FusedBatchNormBackward) {
  DS_REQUIRE_CUDA();
  manual_seed(4);
  expect_cuda_grads_match_cpu([](auto& in) { return batch_norm(in[0], in[1], in[2], {}, {}, true); },
                              {randn({32, 24, 17, 9}), randn({24}), randn({24})}, 1e-4, 1e-4);
  expect_cuda_grads_match_cpu([](auto& in) { return batch_norm(in[0], in[1], in[2], {}, {}, true); },
                              {randn({4, 3, 1000}), randn({3}), randn({3})}, 1e-4, 1e-4);
  expect_cuda_grads_match_cpu(
      [](auto& in) { return batch_norm(in[0], in[1], in[2], {}, {}, true); },
      {randn({16, 8, 6, 6}).to(DType::bf16), randn({8}).to(DType::bf16), randn({8}).to(DType::bf16)}, 3e-2, 3e-2);
}

}  // namespace
}  // namespace deepseek::testing
