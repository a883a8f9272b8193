// CUDA pooling and im2col kernels against the CPU: max_pool2d_with_indices (values and
// indices, padding, stride, dilation, NaN), avg_pool2d (count_include_pad on and off) and its
// backward op, adaptive_avg_pool2d (divisible, uneven and upsampling sizes) and its backward
// op, unfold and fold. f32, f64, f16 and bf16, non-contiguous inputs (made inside the function:
// the op definitions copy them to contiguous), 3-D (unbatched) inputs, larger batches that need
// grid-stride loops, and gradients (max pooling's backward is a scatter_add through the
// indices, composed in the op definition).
#include <array>
#include <cmath>

#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/linalg_backward.h"
#include "deepseek/autograd/engine.h"
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

using Outs = std::vector<Tensor>;
using Ints = std::vector<int64_t>;

const std::vector<DType> kFloats = {DType::f32, DType::f64, DType::f16, DType::bf16};

Outs tup(const std::tuple<Tensor, Tensor>& t) { return {std::get<0>(t), std::get<1>(t)}; }

TEST(CudaPool, MaxPoolWithIndices) {
  DS_REQUIRE_CUDA();
  manual_seed(31);
  for (DType t : kFloats) {
    Tensor x = randn({2, 3, 9, 11}).to(t);
    std::string n = dtype_name(t);
    // indices are exact; values are copies of inputs
    expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {2, 2})); }, {x}, 0, 0);
    expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {3, 3}, {2, 2}, {1, 1})); }, {x}, 0, 0);
    expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {3, 2}, {1, 3}, {1, 0})); }, {x}, 0, 0);
    expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0].transpose(2, 3), {2, 3}, {2, 1})); },
                            {x}, 0, 0);
    expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {2, 2})); },
                            {randn({3, 8, 8}).to(t)}, 0, 0);  // unbatched
  }
  // dilation (only through the op's attrs)
  Tensor x = randn({2, 2, 10, 9});
  expect_cuda_matches_cpu([](auto& v) {
    ops::Attrs a;
    a.set("kernel", Ints{3, 2}).set("stride", Ints{2, 1}).set("padding", Ints{1, 1}).set("dilation", Ints{2, 3});
    return ops::dispatch(ops::op_id("max_pool2d_with_indices"), {v[0]}, a);
  }, {x}, 0, 0);
  // NaN wins its window; -inf inputs
  Tensor y = tensor({1, NAN, 3, 4, 5, 6, -INFINITY, -INFINITY, 9, 2, NAN, 0, 1, 2, 3, 4}, {1, 1, 4, 4});
  expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {2, 2})); }, {y}, 0, 0);
  expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {3, 3}, {1, 1}, {1, 1})); }, {y}, 0, 0);
  // a ResNet stem shape
  expect_cuda_matches_cpu([](auto& v) { return tup(max_pool2d_with_indices(v[0], {3, 3}, {2, 2}, {1, 1})); },
                          {randn({8, 64, 56, 56})}, 0, 0);
}

TEST(CudaPool, AvgPool) {
  DS_REQUIRE_CUDA();
  manual_seed(32);
  for (DType t : kFloats) {
    Tensor x = randn({2, 3, 9, 11}).to(t);
    for (bool inc : {true, false}) {
      expect_cuda_matches_cpu([inc](auto& v) { return Outs{avg_pool2d(v[0], {2, 2}, {}, {0, 0}, inc)}; }, {x});
      expect_cuda_matches_cpu([inc](auto& v) { return Outs{avg_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, inc)}; }, {x});
      expect_cuda_matches_cpu([inc](auto& v) { return Outs{avg_pool2d(v[0], {3, 2}, {1, 3}, {1, 1}, inc)}; }, {x});
      expect_cuda_matches_cpu([inc](auto& v) { return Outs{avg_pool2d(v[0].transpose(2, 3), {2, 3}, {1, 2}, {1, 1}, inc)}; },
                              {x});
      // the backward op directly: windows overlap (stride < kernel) and clip at the padding
      Tensor g = randn({2, 3, 5, 6}).to(t);
      expect_cuda_matches_cpu([inc](auto& v) {
        return Outs{avg_pool2d_backward(v[0], {2, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1}, inc)};
      }, {g});
      Tensor g2 = randn({2, 3, 9, 6}).to(t);
      expect_cuda_matches_cpu([inc](auto& v) {
        return Outs{avg_pool2d_backward(v[0], {2, 3, 9, 11}, {3, 2}, {1, 2}, {1, 1}, inc)};
      }, {g2});
    }
    expect_cuda_matches_cpu([](auto& v) { return Outs{avg_pool2d(v[0], {2, 2})}; }, {randn({3, 6, 6}).to(t)});
  }
  expect_cuda_matches_cpu([](auto& v) { return Outs{avg_pool2d(v[0], {3, 3}, {2, 2}, {1, 1})}; }, {randn({8, 32, 40, 40})});
}

TEST(CudaPool, AdaptiveAvgPool) {
  DS_REQUIRE_CUDA();
  manual_seed(33);
  for (DType t : kFloats) {
    Tensor x = randn({2, 3, 9, 10}).to(t);
    for (Ints o : {Ints{1, 1}, Ints{3, 5}, Ints{4, 3}, Ints{9, 10}, Ints{12, 15}, Ints{7, 1}}) {
      expect_cuda_matches_cpu([o](auto& v) { return Outs{adaptive_avg_pool2d(v[0], o)}; }, {x});
      Tensor g = randn({2, 3, o[0], o[1]}).to(t);
      expect_cuda_matches_cpu([](auto& v) { return Outs{adaptive_avg_pool2d_backward(v[0], {2, 3, 9, 10})}; }, {g});
    }
    expect_cuda_matches_cpu([](auto& v) { return Outs{adaptive_avg_pool2d(v[0].transpose(2, 3), {3, 4})}; }, {x});
    expect_cuda_matches_cpu([](auto& v) { return Outs{adaptive_avg_pool2d(v[0], {2, 2})}; }, {randn({3, 5, 5}).to(t)});
  }
  expect_cuda_matches_cpu([](auto& v) { return Outs{adaptive_avg_pool2d(v[0], {1, 1})}; }, {randn({16, 512, 7, 7})});
}

TEST(CudaPool, UnfoldFold) {
  DS_REQUIRE_CUDA();
  manual_seed(34);
  for (DType t : kFloats) {
    Tensor x = randn({2, 3, 7, 8}).to(t);
    // kernel, dilation, padding, stride
    std::vector<std::array<Ints, 4>> cfgs = {{Ints{2, 2}, Ints{1, 1}, Ints{0, 0}, Ints{1, 1}},
                                             {Ints{3, 3}, Ints{1, 1}, Ints{1, 1}, Ints{2, 2}},
                                             {Ints{3, 2}, Ints{2, 1}, Ints{1, 2}, Ints{1, 3}},
                                             {Ints{1, 1}, Ints{1, 1}, Ints{0, 0}, Ints{2, 2}}};
    for (auto& c : cfgs) {
      expect_cuda_matches_cpu([c](auto& v) { return Outs{unfold(v[0], c[0], c[1], c[2], c[3])}; }, {x}, 0, 0);
      expect_cuda_matches_cpu([c](auto& v) { return Outs{unfold(v[0].transpose(2, 3), c[0], c[1], c[2], c[3])}; },
                              {x}, 0, 0);
      Tensor cols = unfold(x, c[0], c[1], c[2], c[3]);
      Tensor r = randn(cols.sizes()).to(t);
      // fold sums in the CPU's order with its per-step rounding
      expect_cuda_matches_cpu([c](auto& v) { return Outs{fold(v[0], {7, 8}, c[0], c[1], c[2], c[3])}; }, {r});
      expect_cuda_grads_match_cpu([c](auto& v) { return unfold(v[0], c[0], c[1], c[2], c[3]); }, {x});
      expect_cuda_grads_match_cpu([c](auto& v) { return fold(v[0], {7, 8}, c[0], c[1], c[2], c[3]); }, {r});
    }
    expect_cuda_matches_cpu([](auto& v) { return Outs{unfold(v[0], {2, 2})}; }, {randn({3, 5, 5}).to(t)}, 0, 0);
  }
}

TEST(CudaPool, Gradients) {
  DS_REQUIRE_CUDA();
  manual_seed(35);
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = randn({2, 3, 9, 11}).to(t);
    expect_cuda_grads_match_cpu([](auto& v) { return max_pool2d(v[0], {2, 2}); }, {x});
    expect_cuda_grads_match_cpu([](auto& v) { return max_pool2d(v[0], {3, 3}, {1, 1}, {1, 1}); }, {x});  // overlapping
    expect_cuda_grads_match_cpu([](auto& v) { return avg_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, false); }, {x});
    expect_cuda_grads_match_cpu([](auto& v) { return avg_pool2d(v[0], {2, 3}, {1, 2}, {1, 1}, true); }, {x});
    expect_cuda_grads_match_cpu([](auto& v) { return adaptive_avg_pool2d(v[0], {4, 3}); }, {x});
    expect_cuda_grads_match_cpu([](auto& v) { return adaptive_avg_pool2d(v[0], {12, 13}); }, {x});
    expect_cuda_grads_match_cpu([](auto& v) { return max_pool1d(v[0], 3, 2, 1); }, {randn({2, 3, 17}).to(t)});
    expect_cuda_grads_match_cpu([](auto& v) { return avg_pool1d(v[0], 3, 2, 1); }, {randn({2, 3, 17}).to(t)});
  }
  expect_cuda_grads_match_cpu([](auto& v) { return max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}); }, {randn({4, 16, 32, 32})});
}

// The CUDA max_pool2d gradient is its own op (a gather); its backward gathers again.
TEST(CudaPool, MaxPoolDoubleBackward) {
  DS_REQUIRE_CUDA();
  manual_seed(36);
  Tensor x0 = randn({2, 3, 9, 11}), w = randn({2, 3, 9, 11});
  auto grad_of_grad = [&](Device d) {
    Tensor x = x0.to(d).requires_grad_(true);
    Tensor y = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    Tensor g = autograd::grad({sum(square(y))}, {x}, {}, false, true)[0];
    return autograd::grad({sum(mul(g, w.to(d)))}, {x})[0].to(kCPU);
  };
  EXPECT_TRUE(close(grad_of_grad(kCuda), grad_of_grad(kCPU), 1e-5, 1e-5));
}

}  // namespace
}  // namespace deepseek::testing
