// CUDA reductions (sum, mean, prod, amax, amin, any, all, max/min along a dim, argmax,
// argmin, norm) and softmax / log_softmax against the CPU kernels: dims first / middle /
// last / several, keepdim, non-contiguous inputs, long rows (split over blocks), every dtype
// the ops take, NaN and tie semantics, empty and 0-d tensors, and gradients.
#include <cmath>
#include <limits>

#include "deepseek/autograd/engine.h"
#include "deepseek/ops/autocast.h"
#include "tests/cuda/compare_util.h"

namespace deepseek::testing {
namespace {

const std::vector<DType> kFloats = {DType::f32, DType::f64, DType::f16, DType::bf16};
const std::vector<DType> kAll = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8,
                                 DType::u8,  DType::i16, DType::i32, DType::i64,  DType::b8};

Tensor rnd(const Shape& s, DType t) { return randn(s).to(t); }
Tensor pos(const Shape& s, DType t) { return add(rand(s), 0.5).to(t); }  // no cancellation in sums
Tensor ints(const Shape& s, DType t, int64_t lo = -4, int64_t hi = 5) {
  if (t == DType::b8) return randint(0, 2, s, {DType::i64}).to(t);
  if (t == DType::u8) return randint(0, hi, s, {DType::i64}).to(t);
  return randint(lo, hi, s, {DType::i64}).to(t);
}
Tensor any_input(const Shape& s, DType t) { return is_floating(t) ? rnd(s, t) : ints(s, t); }

std::string name(DType t, const std::vector<int64_t>& dims, bool keep) {
  return std::string(dtype_name(t)) + " dims " + to_string(Shape(dims.begin(), dims.end())) +
         (keep ? " keepdim" : "");
}

const std::vector<std::vector<int64_t>> kDimSets = {{}, {0}, {1}, {3}, {-1}, {0, 2}, {1, 3}, {0, 1, 2, 3}, {2, 1}};

TEST(CudaReduce, SumMeanOverDims) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    Tensor x = pos({3, 4, 5, 6}, t);
    for (auto& dims : kDimSets)
      for (bool keep : {false, true})
        expect_match([&](auto& in) { return std::vector<Tensor>{sum(in[0], dims, keep), mean(in[0], dims, keep)}; },
                     {x}, name(t, dims, keep));
  }
  // signed values too (f64: exact enough for any order)
  Tensor x = rnd({3, 4, 5, 6}, DType::f64);
  for (auto& dims : kDimSets)
    expect_match([&](auto& in) { return std::vector<Tensor>{sum(in[0], dims), mean(in[0], dims, true)}; }, {x});
}

TEST(CudaReduce, SumIntegerAndBoolGiveI64) {
  DS_REQUIRE_CUDA();
  for (DType t : kAll) {
    if (is_floating(t)) continue;
    Tensor x = ints({4, 33, 7}, t);
    for (auto& dims : std::vector<std::vector<int64_t>>{{}, {0}, {1}, {2}, {0, 2}})
      expect_match([&](auto& in) {
        Tensor s = sum(in[0], dims);
        EXPECT_EQ(s.dtype(), DType::i64);
        return std::vector<Tensor>{s};
      }, {x}, name(t, dims, false));
  }
  // sum with a requested dtype (the definition casts first)
  Tensor x = ints({5, 6}, DType::i32);
  expect_match([](auto& in) { return std::vector<Tensor>{sum(in[0], {1}, false, DType::f32)}; }, {x});
  Tensor y = rnd({5, 6}, DType::f16);
  expect_match([](auto& in) { return std::vector<Tensor>{sum(in[0], {0}, true, DType::f32)}; }, {y});
}

TEST(CudaReduce, NonContiguousInputs) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    Tensor x = pos({6, 7, 8}, t);
    expect_match([](auto& in) {
      Tensor v = in[0].transpose(0, 2);  // [8, 7, 6], reduced dims strided
      return std::vector<Tensor>{sum(v, {0}), sum(v, {2}), mean(v, {1, 2}, true), amax(v, {1}), sum(v)};
    }, {x}, dtype_name(t));
    expect_match([](auto& in) {
      Tensor v = slice(permute(in[0], {1, 0, 2}), 2, 1, 8, 3);  // [7, 6, 3] with steps
      return std::vector<Tensor>{sum(v, {1}), amin(v, {0, 2}), std::get<0>(max(v, 1)), std::get<1>(max(v, 1)),
                                 argmin(v), norm(v, 2, {2})};
    }, {x}, dtype_name(t));
    expect_match([](auto& in) {
      Tensor v = expand(slice(in[0], 1, 0, 1), {6, 5, 8});  // stride-0 dim
      return std::vector<Tensor>{sum(v, {1}), mean(v, {0, 1}), amax(v, {1, 2})};
    }, {x}, dtype_name(t));
  }
}

TEST(CudaReduce, LongRowsAndColumnsSplitOverBlocks) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    // one output, many values (split over blocks, merged by a second kernel)
    Tensor a = pos({1 << 20}, t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{sum(in[0]), mean(in[0]), amax(in[0]), amin(in[0]), argmax(in[0]), norm(in[0])};
    }, {a}, std::string("1M ") + dtype_name(t));
    // few long rows (row layout, splits), and long columns (column layout, splits)
    Tensor b = pos({3, 5000}, t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{sum(in[0], {1}), mean(in[0], {0}), amax(in[0], {1}, true),
                                 std::get<0>(min(in[0], 0)), std::get<1>(min(in[0], 0)), argmax(in[0], 1),
                                 norm(in[0], 1, {1})};
    }, {b}, std::string("3x5000 ") + dtype_name(t));
    Tensor c = pos({5000, 3}, t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{sum(in[0], {0}), mean(in[0], {0}, true), std::get<1>(max(in[0], 0)),
                                 argmin(in[0], 0), sum(in[0], {1})};
    }, {c}, std::string("5000x3 ") + dtype_name(t));
    // middle dim long, inner > 1
    Tensor d = pos({4, 3000, 5}, t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{sum(in[0], {1}), amax(in[0], {1}), std::get<1>(max(in[0], 1)), norm(in[0], 2, {1})};
    }, {d}, std::string("4x3000x5 ") + dtype_name(t));
  }
  // many rows of medium length (rows > 65535 outputs)
  Tensor e = pos({70000, 40}, DType::f32);
  expect_match([](auto& in) {
    return std::vector<Tensor>{sum(in[0], {1}), argmax(in[0], 1), sum(in[0], {0})};
  }, {e});
  // many short rows (one warp per row): 64 and 100 values, and the last dim of a 4-D
  // (N, L, H, E) tensor, as attention's rowsum(dO * O)
  for (int64_t n : {64, 100, 1000}) {
    Tensor f = pos({40000, n}, DType::f32);
    expect_match([](auto& in) {
      return std::vector<Tensor>{sum(in[0], {1}), amax(in[0], {1}), argmax(in[0], 1), norm(in[0], 2, {1})};
    }, {f}, "40000x" + std::to_string(n));
  }
  expect_match([](auto& in) { return std::vector<Tensor>{sum(in[0], {-1}), mean(in[0], {3}, true)}; },
               {pos({4, 512, 12, 64}, DType::bf16)});
}

TEST(CudaReduce, ProdAmaxAminAnyAllEveryDType) {
  DS_REQUIRE_CUDA();
  for (DType t : kAll) {
    Tensor x = any_input({4, 6, 5}, t);
    Tensor p = is_floating(t) ? add(mul(rand({4, 6, 5}), 0.5), 0.75).to(t) : ints({4, 6, 5}, t, -2, 3);
    for (auto& dims : std::vector<std::vector<int64_t>>{{}, {0}, {1}, {2}, {0, 2}})
      for (bool keep : {false, true}) {
        expect_match([&](auto& in) {
          return std::vector<Tensor>{amax(in[0], dims, keep), amin(in[0], dims, keep), any(in[0], dims, keep),
                                     all(in[0], dims, keep)};
        }, {x}, name(t, dims, keep));
      }
    for (auto d : {0, 1, 2})
      expect_match([&](auto& in) { return std::vector<Tensor>{prod(in[0], d), prod(in[0], d, true)}; }, {p},
                   std::string("prod ") + dtype_name(t));
    expect_match([&](auto& in) { return std::vector<Tensor>{prod(in[1])}; }, {x, ints({3, 4}, t, -2, 3)},
                 std::string("prod all ") + dtype_name(t));
  }
  // any / all with zeros, including -0.0 and NaN (NaN counts as nonzero)
  Tensor z = tensor({0, -0.0, 0, NAN, 0, 1, 0, 0, 0, 0, 0, 0}, {3, 4});
  expect_match([](auto& in) {
    return std::vector<Tensor>{any(in[0], {1}), all(in[0], {0}), any(in[0]), all(ne(in[0], 5.0))};
  }, {z});
}

TEST(CudaReduce, MaxMinArgTiesAndNaN) {
  DS_REQUIRE_CUDA();
  // ties: the first index wins
  for (DType t : kAll) {
    Tensor x = ints({6, 40, 7}, t, -2, 3);
    for (int64_t d : {0, 1, 2, -1})
      for (bool keep : {false, true})
        expect_match([&](auto& in) {
          auto [mv, mi] = max(in[0], d, keep);
          auto [nv, ni] = min(in[0], d, keep);
          return std::vector<Tensor>{mv, mi, nv, ni, argmax(in[0], d, keep), argmin(in[0], d, keep)};
        }, {x}, name(t, {d}, keep));
    expect_match([](auto& in) {
      return std::vector<Tensor>{argmax(in[0]), argmin(in[0]), argmax(in[0], std::nullopt, true)};
    }, {x}, dtype_name(t));
  }
  // ties over a long row (split over blocks: the merge keeps the first index)
  Tensor longties = ints({2, 100000}, DType::i32, 0, 3);
  expect_match([](auto& in) {
    return std::vector<Tensor>{argmax(in[0], 1), argmin(in[0], 1), argmax(in[0]), std::get<1>(max(in[0], 0))};
  }, {longties});
  // NaN propagates and wins, at its first position
  for (DType t : kFloats) {
    Tensor x = tensor({1, NAN, 3, NAN, 2, 5, -1, 0, 4, 4, -INFINITY, INFINITY}, {3, 4}).to(t);
    expect_match([](auto& in) {
      auto [mv, mi] = max(in[0], 1);
      auto [nv, ni] = min(in[0], 0);
      return std::vector<Tensor>{amax(in[0], {1}), amin(in[0], {0}), amax(in[0]), mv, mi, nv, ni,
                                 argmax(in[0]), argmin(in[0], 1), norm(in[0], INFINITY, {1})};
    }, {x}, dtype_name(t));
  }
}

TEST(CudaReduce, NormP) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    Tensor x = rnd({5, 6, 7}, t);
    x = mul(x, gt(abs(x), 0.2).to(t));  // a few exact zeros
    for (double p : std::vector<double>{0.0, 1.0, 2.0, 3.0, 0.5, -1.0, INFINITY, -INFINITY})
      for (auto& dims : std::vector<std::vector<int64_t>>{{}, {0}, {2}, {0, 2}})
        for (bool keep : {false, true})
          expect_match([&](auto& in) { return std::vector<Tensor>{norm(in[0], p, dims, keep)}; },
                       {x},
                       name(t, dims, keep) + " p " + std::to_string(p));
  }
}

TEST(CudaReduce, EmptyAndScalarTensors) {
  DS_REQUIRE_CUDA();
  Tensor e = randn({3, 0, 4});
  expect_match([](auto& in) {
    return std::vector<Tensor>{sum(in[0], {1}), mean(in[0], {1}), prod(in[0], 1), any(in[0], {1}),
                               all(in[0], {1}), sum(in[0], {0}), amax(in[0], {0}), norm(in[0], 2, {1}),
                               sum(in[0])};
  }, {e});
  Tensor s = full({}, 2.5);
  expect_match([](auto& in) {
    auto [v, i] = max(in[0], 0);
    return std::vector<Tensor>{sum(in[0]), mean(in[0]), prod(in[0]), amax(in[0]), amin(in[0]), any(in[0]),
                               v, i, argmax(in[0]), argmin(in[0], 0), norm(in[0], 3)};
  }, {s});
  Tensor si = full({}, 7, {DType::i32});
  expect_match([](auto& in) { return std::vector<Tensor>{sum(in[0]), amax(in[0]), argmax(in[0])}; }, {si});
}

TEST(CudaReduce, Gradients) {
  DS_REQUIRE_CUDA();
  Tensor x = add(rand({4, 5, 6}), 0.5);
  auto g = [&](std::function<Tensor(const Tensor&)> f) {
    expect_cuda_grads_match_cpu([f](auto& in) { return f(in[0]); }, {x}, 1e-4, 1e-5);
  };
  g([](const Tensor& v) { return sum(v, {1}); });
  g([](const Tensor& v) { return mean(v, {0, 2}, true); });
  g([](const Tensor& v) { return amax(v, {2}); });
  g([](const Tensor& v) { return amin(v); });
  g([](const Tensor& v) { return prod(v, 1); });
  g([](const Tensor& v) { return norm(v, 2, {2}); });
  g([](const Tensor& v) { return norm(v, 3, {0, 1}); });
  g([](const Tensor& v) { return std::get<0>(max(v, 1)); });
  g([](const Tensor& v) { return std::get<0>(min(v, 2, true)); });
  g([](const Tensor& v) { return logsumexp(v, {1}); });
  g([](const Tensor& v) { return var(v, {0, 2}); });
  // f64 and a non-contiguous input
  Tensor y = randn({6, 7}, {DType::f64});
  expect_cuda_grads_match_cpu([](auto& in) { return sum(in[0].transpose(0, 1), {1}); }, {y});
  expect_cuda_grads_match_cpu([](auto& in) { return norm(in[0].transpose(0, 1), 1, {0}); }, {y});
}

// ---- softmax / log_softmax ----

TEST(CudaSoftmax, EveryDimAndDType) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    Tensor x = mul(randn({4, 5, 6}), 3.0).to(t);
    for (int64_t d : {0, 1, 2, -1})
      expect_match([&](auto& in) { return std::vector<Tensor>{softmax(in[0], d), log_softmax(in[0], d)}; }, {x},
                   name(t, {d}, false));
    // non-contiguous input (the definition makes it contiguous first)
    expect_match([](auto& in) {
      Tensor v = in[0].transpose(0, 2);
      return std::vector<Tensor>{softmax(v, -1), log_softmax(v, 1)};
    }, {x}, dtype_name(t));
  }
}

TEST(CudaSoftmax, LongAndShortRows) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    for (int64_t n : {1, 7, 32, 33, 1000, 1024, 1025, 5000, 70000}) {
      Tensor x = mul(randn({3, n}), 4.0).to(t);
      expect_match([](auto& in) {
        return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], 1), softmax(in[0], 0)};
      }, {x}, std::string(dtype_name(t)) + " n " + std::to_string(n));
    }
    Tensor many = randn({20000, 10}).to(t);  // many short rows
    expect_match([](auto& in) { return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], 0)}; }, {many});
  }
}

TEST(CudaSoftmax, InfAndNaNRows) {
  DS_REQUIRE_CUDA();
  for (DType t : kFloats) {
    Tensor x = tensor({-INFINITY, -INFINITY, -INFINITY, 1, -INFINITY, 2, 1, NAN, 3, 0, 0, 0}, {4, 3}).to(t);
    expect_match([](auto& in) {
      return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], 1), softmax(in[0], 0), log_softmax(in[0], 0)};
    }, {x}, dtype_name(t));
  }
  expect_match([](auto& in) { return std::vector<Tensor>{softmax(in[0], 0), log_softmax(in[0], 0)}; },
               {full({}, 3.0)});
  expect_match([](auto& in) { return std::vector<Tensor>{softmax(in[0], 1)}; }, {randn({3, 0})});
}

TEST(CudaSoftmax, Gradients) {
  DS_REQUIRE_CUDA();
  Tensor x = randn({6, 50});
  for (int64_t d : {0, 1}) {
    expect_cuda_grads_match_cpu([d](auto& in) { return softmax(in[0], d); }, {x}, 1e-4, 1e-5);
    expect_cuda_grads_match_cpu([d](auto& in) { return log_softmax(in[0], d); }, {x}, 1e-4, 1e-5);
  }
  Tensor y = randn({3, 2000}, {DType::f64});
  expect_cuda_grads_match_cpu([](auto& in) { return log_softmax(in[0], 1); }, {y});
  // Long rows whose starts fall at every alignment within 16 bytes (the packed row kernels'
  // unaligned heads and tails).
  Tensor z = mul(randn({5, 1027}), 3.0);
  expect_cuda_grads_match_cpu([](auto& in) { return log_softmax(in[0], 1); }, {z}, 1e-4, 1e-5);
  expect_cuda_grads_match_cpu([](auto& in) { return softmax(in[0], 1); }, {z}, 1e-4, 1e-5);
  expect_cuda_grads_match_cpu([](auto& in) { return softmax(in[0], 0); }, {y});
}

// cross_entropy over 2-D logits takes the fused softmax_cross_entropy op on CUDA; the CPU runs
// the composite (log_softmax, gather). Reductions, ignored targets, rows at every alignment,
// i32 targets, half logits (read as they are, computed in f32), double backward, bad targets.
TEST(CudaSoftmax, FusedCrossEntropyMatchesTheComposite) {
  DS_REQUIRE_CUDA();
  manual_seed(5);
  Tensor x = mul(randn({37, 1027}), 3.0);
  Tensor t = randint(0, 1027, {37});
  t = where(lt(rand({37}), 0.2), full({37}, Scalar(int64_t{-100}), {DType::i64}), t);
  for (const char* red : {"mean", "sum", "none"}) {
    SCOPED_TRACE(red);
    expect_cuda_grads_match_cpu([red](auto& in) { return cross_entropy(in[0], in[1], {}, -100, red); }, {x, t},
                                1e-5, 1e-5);
  }
  expect_cuda_grads_match_cpu([](auto& in) { return cross_entropy(in[0], in[1], {}, 3); },
                              {randn({9, 40}, {DType::f64}), randint(0, 40, {9}).to(DType::i32)});
  // f32 logits: the forward is the composite's to rounding; bf16 logits: the loss in bf16 as
  // the composite's (which rounds the log-probabilities to bf16 first), f32 under autocast.
  Tensor xb = x.to(DType::bf16);
  Tensor lb = cross_entropy(xb.to(kCuda), t.to(kCuda));
  EXPECT_EQ(lb.dtype(), DType::bf16);
  EXPECT_NEAR(lb.to(kCPU).to(DType::f32).item<float>(), cross_entropy(xb.to(DType::f32), t).item<float>(), 0.1);
  {
    AutocastGuard ac(DeviceType::cuda, DType::bf16);
    Tensor la = cross_entropy(xb.to(kCuda), t.to(kCuda));
    EXPECT_EQ(la.dtype(), DType::f32);
    EXPECT_NEAR(la.to(kCPU).item<float>(), cross_entropy(xb.to(DType::f32), t).item<float>(), 1e-4);
  }
  // Double backward (create_graph) goes through the composite gradient.
  auto gradgrad = [](const Tensor& xs, const Tensor& ts) {
    Tensor v = xs.detach().requires_grad_();
    Tensor g = autograd::grad({cross_entropy(v, ts)}, {v}, {}, false, true)[0];
    return autograd::grad({sum(mul(g, g))}, {v})[0];
  };
  Tensor small = randn({4, 7}), st = tensor_i64({1, -100, 6, 0});
  EXPECT_TRUE(close(gradgrad(small.to(kCuda), st.to(kCuda)).to(kCPU), gradgrad(small, st), 1e-4, 1e-6));
  // A bad target is an Error naming cross_entropy.
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x.to(kCuda), full({37}, Scalar(int64_t{1027}), {DType::i64}).to(kCuda)));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x.to(kCuda), full({37}, Scalar(int64_t{-3}), {DType::i64}).to(kCuda)));
}

}  // namespace
}  // namespace deepseek::testing
