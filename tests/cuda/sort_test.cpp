// CUDA sort, topk and cumsum against the CPU: stable order with ties and NaN (ascending and
// descending), rows short (one block) and long (tiles + merge passes), any dim, non-contiguous
// inputs, every dtype, 0-d and empty tensors, and gradients.
#include <cmath>

#include "tests/cuda/compare_util.h"

namespace deepseek::testing {
namespace {

const std::vector<DType> kAll = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8,
                                 DType::u8,  DType::i16, DType::i32, DType::i64,  DType::b8};

// Values with many ties (small integers) in any dtype.
Tensor tied(const Shape& s, DType t) {
  if (t == DType::b8) return randint(0, 2, s, {DType::i64}).to(t);
  if (t == DType::u8) return randint(0, 6, s, {DType::i64}).to(t);
  return randint(-3, 4, s, {DType::i64}).to(t);
}

TEST(CudaSort, StableWithTiesEveryDTypeAndDim) {
  DS_REQUIRE_CUDA();
  for (DType t : kAll) {
    Tensor x = tied({5, 37, 6}, t);
    for (int64_t d : {0, 1, 2, -1})
      for (bool desc : {false, true})
        expect_match([&](auto& in) {
          auto [v, i] = sort(in[0], d, desc);
          return std::vector<Tensor>{v, i};
        }, {x}, std::string(dtype_name(t)) + " dim " + std::to_string(d) + (desc ? " desc" : ""));
  }
  // distinct random floats
  Tensor r = randn({7, 300});  // distinct values: the same permutation
  expect_match([](auto& in) {
    auto [v, i] = sort(in[0], 1);
    auto [w, j] = sort(in[0], 0, true);
    return std::vector<Tensor>{v, i, w, j};
  }, {r});
}

TEST(CudaSort, NaNAndSignedZeros) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    Tensor x = tensor({3, NAN, -0.0, 0.0, -INFINITY, NAN, 1, INFINITY, -0.0, 2, NAN, 1}, {2, 6}).to(t);
    for (bool desc : {false, true})
      expect_match([desc](auto& in) {
        auto [v, i] = sort(in[0], 1, desc);
        auto [w, j] = sort(in[0].flatten(), 0, desc);
        auto [tv, ti] = topk(in[0], 3, 1, desc);
        return std::vector<Tensor>{v, i, w, j, tv, ti};
      }, {x}, dtype_name(t));
  }
}

TEST(CudaSort, LongRowsMergePasses) {
  DS_REQUIRE_CUDA();
  for (int64_t n : {2048, 2049, 4096, 5000, 70001}) {
    Tensor x = randint(-50, 50, {3, n}, {DType::i64}).to(DType::f32);  // ties across tiles
    expect_match([](auto& in) {
      auto [v, i] = sort(in[0], 1);
      auto [w, j] = sort(in[0], 1, true);
      auto [tv, ti] = topk(in[0], 10, 1);
      auto [sv, si] = topk(in[0], 7, 1, false);
      return std::vector<Tensor>{v, i, w, j, tv, ti, sv, si};
    }, {x}, "n " + std::to_string(n));
  }
  for (DType t : {DType::f16, DType::i32, DType::b8}) {
    Tensor x = tied({2, 9000}, t);
    expect_match([](auto& in) {
      auto [v, i] = sort(in[0], -1, true);
      auto [tv, ti] = topk(in[0], 100, -1);
      return std::vector<Tensor>{v, i, tv, ti};
    }, {x}, dtype_name(t));
  }
  // long dim that is not innermost, non-contiguous
  Tensor y = randn({5000, 3});
  expect_match([](auto& in) {
    auto [v, i] = sort(in[0], 0);
    auto [w, j] = sort(in[0].transpose(0, 1), 1, true);
    return std::vector<Tensor>{v, i, w, j};
  }, {y});
}

TEST(CudaTopk, EveryDimKAndDirection) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8}) {
    Tensor x = tied({6, 20, 5}, t);
    for (int64_t d : {0, 1, 2})
      for (int64_t k : {int64_t(0), int64_t(1), int64_t(3), x.sizes()[d]})
        for (bool largest : {true, false})
          expect_match([&](auto& in) {
            auto [v, i] = topk(in[0], k, d, largest);
            return std::vector<Tensor>{v, i};
          }, {x}, std::string(dtype_name(t)) + " d " + std::to_string(d) + " k " + std::to_string(k));
  }
  // non-contiguous input, many rows
  Tensor y = randn({40, 3000});
  expect_match([](auto& in) {
    auto [v, i] = topk(slice(in[0], 1, 0, 3000, 2), 5, 1);
    auto [w, j] = topk(in[0].transpose(0, 1), 4, 1, false);
    return std::vector<Tensor>{v, i, w, j};
  }, {y});
}

TEST(CudaSort, ScalarAndEmpty) {
  DS_REQUIRE_CUDA();
  expect_match([](auto& in) {
    auto [v, i] = sort(in[0], 0);
    auto [tv, ti] = topk(in[0], 1, 0);
    return std::vector<Tensor>{v, i, tv, ti, cumsum(in[0], 0)};
  }, {full({}, 4.5)});
  expect_match([](auto& in) {
    auto [v, i] = sort(in[0], 1);
    auto [w, j] = sort(in[0], 0);
    auto [tv, ti] = topk(in[0], 0, 1);
    return std::vector<Tensor>{v, i, w, j, tv, ti, cumsum(in[0], 1), cumsum(in[0], 0)};
  }, {randn({3, 0})});
}

TEST(CudaSort, Gradients) {
  DS_REQUIRE_CUDA();
  Tensor x = randn({4, 50});
  expect_cuda_grads_match_cpu([](auto& in) { return std::get<0>(sort(in[0], 1)); }, {x});
  expect_cuda_grads_match_cpu([](auto& in) { return std::get<0>(sort(in[0], 0, true)); }, {x});
  expect_cuda_grads_match_cpu([](auto& in) { return std::get<0>(topk(in[0], 5, 1)); }, {x});
}

// ---- cumsum ----

TEST(CudaCumsum, EveryDimAndDType) {
  DS_REQUIRE_CUDA();
  for (DType t : kAll) {
    Tensor x = is_floating(t) ? randn({4, 9, 6}).to(t) : tied({4, 9, 6}, t);
    Tol tl = tol_for(t);
    for (int64_t d : {0, 1, 2, -1})
      expect_match([d](auto& in) {
        Tensor y = cumsum(in[0], d);
        return std::vector<Tensor>{y, cumsum(in[0].transpose(0, 2), d)};
      }, {x}, std::string(dtype_name(t)) + " dim " + std::to_string(d), tl);
  }
}

TEST(CudaCumsum, LongRows) {
  DS_REQUIRE_CUDA();
  for (int64_t n : {255, 256, 2047, 2048, 2049, 100000}) {
    Tensor x = randn({3, n}, {DType::f64});
    expect_match([](auto& in) {
      return std::vector<Tensor>{cumsum(in[0], 1), cumsum(in[0], 0), cumsum(in[0].transpose(0, 1), 0)};
    }, {x}, "n " + std::to_string(n), {1e-11, 1e-11});
    Tensor f = randn({3, n});
    expect_match([](auto& in) { return std::vector<Tensor>{cumsum(in[0], 1)}; }, {f}, "f32 n " + std::to_string(n),
                 {1e-6, 1e-6});
    Tensor h = randn({2, n}).to(DType::bf16);
    expect_match([](auto& in) { return std::vector<Tensor>{cumsum(in[0], 1)}; }, {h}, "bf16 n " + std::to_string(n),
                 {1e-2, 1e-2});
    Tensor i = randint(-1000, 1000, {2, n}, {DType::i32});
    expect_match([](auto& in) { return std::vector<Tensor>{cumsum(in[0], 1), cumsum(in[0], 0)}; }, {i});
  }
}

TEST(CudaCumsum, Gradients) {
  DS_REQUIRE_CUDA();
  Tensor x = randn({5, 300}, {DType::f64});
  expect_cuda_grads_match_cpu([](auto& in) { return cumsum(in[0], 1); }, {x});
  expect_cuda_grads_match_cpu([](auto& in) { return cumsum(in[0], 0); }, {x});
}

}  // namespace
}  // namespace deepseek::testing
