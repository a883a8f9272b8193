// CUDA shape kernels against the CPU: cat (and stack on top), flip, roll, pad (constant with
// values and negative padding, reflect, replicate, circular), tril and triu. Every element
// width, several ranks and dims, non-contiguous inputs (made inside the function, since copies
// to the device are contiguous), 0-d and empty tensors, many dims, and gradients.
#include <cmath>

#include "tests/cuda/exact_test_util.h"

namespace deepseek::testing {
namespace {

TEST(CudaShape, Cat) {
  DS_REQUIRE_CUDA();
  manual_seed(21);
  for (DType t : kEveryWidth) {
    Tensor a = random_values({3, 4, 5}, t), b = random_values({3, 2, 5}, t), c = random_values({3, 7, 5}, t);
    expect_exact([](auto& v) { return Outs{cat({v[0], v[1], v[2]}, 1)}; }, {a, b, c}, dtype_name(t));
    expect_exact([](auto& v) { return Outs{cat({v[0], v[0]}, 0), cat({v[0], v[0]}, -1)}; }, {a}, dtype_name(t));
    // non-contiguous inputs
    expect_exact([](auto& v) { return Outs{cat({v[0].transpose(0, 2), v[1].transpose(0, 2)}, 1)}; }, {a, b});
    expect_exact([](auto& v) { return Outs{stack({v[0], v[0], v[0]}, 2)}; }, {a});
  }
  // promotion, legacy 1-D empty inputs, empty dims, a single input
  expect_exact([](auto& v) { return Outs{cat({v[0], v[1]}, 0)}; }, {randn({2, 3}), randint(0, 5, {4, 3})});
  expect_exact([](auto& v) { return Outs{cat({v[0], v[1], v[2]}, 1)}; }, {randn({2, 3}), zeros({0}), randn({2, 1})});
  expect_exact([](auto& v) { return Outs{cat({v[0], v[1]}, 0)}; }, {randn({0, 3}), randn({2, 3})});
  expect_exact([](auto& v) { return Outs{cat({v[0]}, 0)}; }, {randn({2, 3})});
  expect_exact([](auto& v) { return Outs{cat({v[0], v[1]}, 1)}; }, {randn({64, 1000}), randn({64, 24})});
}

TEST(CudaShape, FlipRoll) {
  DS_REQUIRE_CUDA();
  manual_seed(22);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({4, 5, 6}, t);
    for (auto dims : std::vector<std::vector<int64_t>>{{0}, {1}, {2}, {-1}, {0, 2}, {0, 1, 2}, {}}) {
      expect_exact([dims](auto& v) { return Outs{flip(v[0], dims)}; }, {x}, dtype_name(t));
      expect_exact([dims](auto& v) { return Outs{flip(v[0].transpose(0, 1), dims)}; }, {x}, dtype_name(t));
    }
    expect_exact([](auto& v) { return Outs{roll(v[0], {1, -2}, {0, 2})}; }, {x}, dtype_name(t));
    expect_exact([](auto& v) { return Outs{roll(v[0], {13}, {1}), roll(v[0], {-13}, {-1})}; }, {x});
    expect_exact([](auto& v) { return Outs{roll(v[0], {2, 3}, {1, 1})}; }, {x});  // same dim twice
    expect_exact([](auto& v) { return Outs{roll(v[0], {7}, {})}; }, {x});         // flattened
    expect_exact([](auto& v) { return Outs{roll(v[0].transpose(0, 2), {1, 1, 1}, {0, 1, 2})}; }, {x});
    expect_exact([](auto& v) { return Outs{roll(v[0], {5}, {0})}; }, {x});  // more than a full turn
  }
  expect_exact([](auto& v) { return Outs{flip(v[0], {0}), roll(v[0], {1}, {0})}; }, {full({}, 4.0)});
  expect_exact([](auto& v) { return Outs{flip(v[0], {1}), roll(v[0], {3}, {0})}; }, {randn({0, 3})});
  // many dims (merged where possible)
  Tensor m = randn({2, 3, 2, 1, 2, 3, 2, 2, 1, 3, 2, 2});
  expect_exact([](auto& v) { return Outs{flip(v[0], {1, 5, 9}), roll(v[0], {1, 1}, {0, 11})}; }, {m});
  expect_exact([](auto& v) { return Outs{flip(v[0], {0})}; }, {randn({1000, 300})});
}

TEST(CudaShape, Pad) {
  DS_REQUIRE_CUDA();
  manual_seed(23);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({2, 3, 5, 6}, t);
    std::string n = dtype_name(t);
    expect_exact([](auto& v) { return Outs{pad(v[0], {1, 2, 0, 1})}; }, {x}, n);
    expect_exact([](auto& v) { return Outs{pad(v[0], {-1, 1, 2, -1})}; }, {x}, n);
    expect_exact([](auto& v) { return Outs{pad(v[0], {3, 1, 2, 2}, "reflect")}; }, {x}, n);
    expect_exact([](auto& v) { return Outs{pad(v[0], {1, 3, 2, 0}, "replicate")}; }, {x}, n);
    expect_exact([](auto& v) { return Outs{pad(v[0], {2, 1, 1, 3}, "circular")}; }, {x}, n);
    expect_exact([](auto& v) { return Outs{pad(v[0], {1, 1, 1, 1, 1, 1})}; }, {x}, n);  // 3 dims
    expect_exact([](auto& v) { return Outs{pad(v[0].transpose(2, 3), {2, 2, 1, 1}, "reflect")}; }, {x}, n);
  }
  Tensor x = randn({3, 5});
  expect_exact([](auto& v) { return Outs{pad(v[0], {1, 2, 0, 1}, "constant", 0.5)}; }, {x});
  expect_exact([](auto& v) { return Outs{pad(v[0], {2, 1}, "constant", -7)}; }, {randint(0, 9, {3, 5})});
  expect_exact([](auto& v) { return Outs{pad(v[0], {2, 1}, "constant", 2.5)}; }, {x.to(DType::bf16)});
  expect_exact([](auto& v) { return Outs{pad(v[0], {4, 4}, "reflect"), pad(v[0], {5, 5}, "circular")}; }, {x});
  expect_exact([](auto& v) { return Outs{pad(v[0], {3, 2}, "reflect")}; }, {randn({7})});
  expect_exact([](auto& v) { return Outs{pad(v[0], {2, 2}, "replicate")}; }, {randn({3, 1})});
  expect_exact([](auto& v) { return Outs{pad(v[0], {2, 2}, "reflect")}; }, {randn({3, 1, 4})});
  expect_exact([](auto& v) { return Outs{pad(v[0], {1, 1})}; }, {randn({3, 0})});      // empty dim, constant
  expect_exact([](auto& v) { return Outs{pad(v[0], {-3, 0})}; }, {randn({3, 3})});     // to size 0
  expect_exact([](auto& v) { return Outs{pad(v[0], {4, 4, 4, 4}, "constant", 1)}; }, {randn({64, 3, 32, 32})});
}

TEST(CudaShape, TrilTriu) {
  DS_REQUIRE_CUDA();
  manual_seed(24);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({3, 5, 7}, t);
    for (int64_t k : {-6, -2, -1, 0, 1, 3, 8}) {
      std::string n = std::string(dtype_name(t)) + " k " + std::to_string(k);
      expect_exact([k](auto& v) { return Outs{tril(v[0], k), triu(v[0], k)}; }, {x}, n);
      expect_exact([k](auto& v) { return Outs{tril(v[0].transpose(1, 2), k), triu(v[0].transpose(0, 2), k)}; }, {x}, n);
    }
  }
  expect_exact([](auto& v) { return Outs{tril(v[0]), triu(v[0], 1)}; }, {randn({6, 6})});
  expect_exact([](auto& v) { return Outs{tril(v[0]), triu(v[0])}; }, {randn({2, 3, 2, 4, 5})});
  expect_exact([](auto& v) { return Outs{tril(v[0]), triu(v[0])}; }, {randn({0, 4})});
  expect_exact([](auto& v) { return Outs{tril(v[0], -1)}; }, {randn({512, 512})});
}

TEST(CudaShape, Gradients) {
  DS_REQUIRE_CUDA();
  manual_seed(25);
  for (DType t : {DType::f32, DType::f16}) {
    Tensor a = randn({3, 4, 5}).to(t), b = randn({3, 2, 5}).to(t);
    expect_cuda_grads_match_cpu([](auto& v) { return cat({v[0], v[1]}, 1); }, {a, b});
    expect_cuda_grads_match_cpu([](auto& v) { return stack({v[0], v[0]}, 0); }, {a});
    expect_cuda_grads_match_cpu([](auto& v) { return flip(v[0], {0, 2}); }, {a});
    expect_cuda_grads_match_cpu([](auto& v) { return roll(v[0], {1, -3}, {1, 2}); }, {a});
    expect_cuda_grads_match_cpu([](auto& v) { return tril(v[0], 1); }, {a});
    expect_cuda_grads_match_cpu([](auto& v) { return triu(v[0].transpose(1, 2), -1); }, {a});
    Tensor x = randn({2, 3, 5, 6}).to(t);
    expect_cuda_grads_match_cpu([](auto& v) { return pad(v[0], {1, 2, -1, 1}, "constant", 0.5); }, {x});
    for (const char* mode : {"reflect", "replicate", "circular"})
      expect_cuda_grads_match_cpu([mode](auto& v) { return pad(v[0], {3, 1, 2, 2}, mode); }, {x});
  }
}

}  // namespace
}  // namespace deepseek::testing
