// CUDA device layer, copies and elementwise kernels against the CPU.
#include "deepseek/core/allocator.h"
#include "deepseek/core/generator.h"
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

Tensor rnd(const Shape& s, DType t = DType::f32) { return randn(s).to(t); }

TEST(CudaDevice, RoundTripEveryDType) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8, DType::u8,
                  DType::i16, DType::i32, DType::i64, DType::b8}) {
    Tensor x = mul(randn({3, 5, 7}), 10.0).to(t);
    Tensor y = x.to(kCuda);
    EXPECT_TRUE(y.device().is_cuda());
    EXPECT_TRUE(close(y.to(kCPU), x, 0, 0)) << dtype_name(t);
    // non-contiguous source on both sides
    EXPECT_TRUE(close(x.transpose(0, 2).to(kCuda).to(kCPU), x.transpose(0, 2), 0, 0));
    EXPECT_TRUE(close(y.transpose(0, 2).to(kCPU), x.transpose(0, 2), 0, 0));
  }
}

TEST(CudaDevice, AllocatorStatsAndEmptyCache) {
  DS_REQUIRE_CUDA();
  Device d = kCuda;
  reset_peak_memory(d);
  int64_t before = memory_stats(d).allocated;
  {
    Tensor big = zeros({1024, 1024}, {DType::f32, d});  // 4 MiB
    EXPECT_GE(memory_stats(d).allocated - before, 4 << 20);
  }
  cuda_synchronize();
  EXPECT_EQ(memory_stats(d).allocated, before);
  EXPECT_GE(memory_stats(d).peak_allocated - before, 4 << 20);
  EXPECT_GE(memory_stats(d).reserved, 4 << 20);  // the pool keeps it cached
  empty_cache(d);
  EXPECT_LT(memory_stats(d).reserved, 4 << 20);
}

TEST(CudaDevice, ItemAndReprReadBack) {
  DS_REQUIRE_CUDA();
  Tensor x = full({}, 3.5, {DType::f32, kCuda});
  EXPECT_EQ(x.item<double>(), 3.5);
  EXPECT_NE(x.repr().find("3.5"), std::string::npos);
}

TEST(CudaDevice, MixedDevicesAreRejected) {
  DS_REQUIRE_CUDA();
  Tensor a = ones({4}), b = ones({4}).to(kCuda);
  EXPECT_OP_ERROR("add", add(a, b));
}

TEST(CudaCreation, RandomStreamsMatchCpuBitForBit) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64}) {
    manual_seed(7);
    Tensor c = rand({1001}, {t});
    manual_seed(7);
    Tensor g = rand({1001}, {t, kCuda});
    EXPECT_TRUE(close(g.to(kCPU), c, 0, 0));
    manual_seed(7);
    Tensor cn = randn({1001}, {t});
    manual_seed(7);
    Tensor gn = randn({1001}, {t, kCuda});
    EXPECT_TRUE(close(gn.to(kCPU), cn, 1e-5, 1e-6));  // sin/cos/log differ by a few ulp
  }
  manual_seed(3);
  Tensor ci = randint(-5, 9, {513});
  manual_seed(3);
  Tensor gi = randint(-5, 9, {513}, {DType::i64, kCuda});
  EXPECT_TRUE(close(gi.to(kCPU), ci, 0, 0));
}

TEST(CudaCreation, FillsAndRanges) {
  DS_REQUIRE_CUDA();
  EXPECT_TRUE(close(arange(0, 10, 0.5, {DType::f32, kCuda}).to(kCPU), arange(0, 10, 0.5, {DType::f32}), 0, 0));
  EXPECT_TRUE(close(linspace(-1, 1, 77, {DType::f64, kCuda}).to(kCPU), linspace(-1, 1, 77, {DType::f64}), 0, 0));
  EXPECT_TRUE(close(eye(5, 7, {DType::f32, kCuda}).to(kCPU), eye(5, 7), 0, 0));
  EXPECT_TRUE(close(full({3, 3}, 2.5, {DType::bf16, kCuda}).to(kCPU), full({3, 3}, 2.5, {DType::bf16}), 0, 0));
}

TEST(CudaCreation, DropoutMaskMatchesCpu) {
  DS_REQUIRE_CUDA();
  Tensor x = rnd({37, 29});
  manual_seed(11);
  Tensor c = dropout(x, 0.3, true);
  manual_seed(11);
  Tensor g = dropout(x.to(kCuda), 0.3, true);
  EXPECT_TRUE(close(g.to(kCPU), c, 1e-6, 0));
}

TEST(CudaElementwise, UnaryOpsAllFloatTypes) {
  DS_REQUIRE_CUDA();
  std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> fs = {
      {"exp", [](auto& x) { return exp(x); }},         {"log", [](auto& x) { return log(abs(x)); }},
      {"tanh", [](auto& x) { return tanh(x); }},       {"sigmoid", [](auto& x) { return sigmoid(x); }},
      {"log1p", [](auto& x) { return log1p(abs(x)); }}, {"expm1", [](auto& x) { return expm1(x); }},
      {"sqrt", [](auto& x) { return sqrt(abs(x)); }},  {"rsqrt", [](auto& x) { return rsqrt(add(abs(x), 0.1)); }},
      {"sin", [](auto& x) { return sin(x); }},         {"cos", [](auto& x) { return cos(x); }},
      {"erf", [](auto& x) { return erf(x); }},         {"silu", [](auto& x) { return silu(x); }},
      {"gelu", [](auto& x) { return gelu(x); }},       {"gelu_tanh", [](auto& x) { return gelu(x, "tanh"); }},
      {"softplus", [](auto& x) { return softplus(x); }}, {"neg", [](auto& x) { return neg(x); }},
      {"abs", [](auto& x) { return abs(x); }},         {"relu", [](auto& x) { return relu(x); }},
      {"sign", [](auto& x) { return sign(x); }},       {"floor", [](auto& x) { return floor(x); }},
      {"ceil", [](auto& x) { return ceil(x); }},       {"round", [](auto& x) { return round(x); }},
      {"clamp", [](auto& x) { return clamp(x, -0.5, 0.7); }}, {"pow", [](auto& x) { return pow(x, 3.0); }},
  };
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    Tensor x = mul(rnd({67, 33}), 2.0).to(t);
    for (auto& [name, f] : fs) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(t));
      expect_cuda_matches_cpu([&](auto& in) { return std::vector<Tensor>{f(in[0])}; }, {x});
      // strided input (a transposed view)
      expect_cuda_matches_cpu([&](auto& in) { return std::vector<Tensor>{f(in[0].t())}; }, {x});
    }
  }
}

TEST(CudaElementwise, BinaryBroadcastAndCompare) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor a = mul(rnd({4, 1, 33}), 5.0).to(t), b = add(mul(rnd({7, 33}), 5.0), 0.5).to(t);
    auto all = [](auto& in) {
      const Tensor &x = in[0], &y = in[1];
      return std::vector<Tensor>{add(x, y),      sub(x, y, 2),  mul(x, y),     maximum(x, y),
                                 minimum(x, y),  eq(x, y),      ne(x, y),      lt(x, y),
                                 le(x, y),       gt(x, y),      ge(x, y),      logical_and(x, y),
                                 logical_or(x, y), where(gt(x, y), x, y), mul(x, 3), add(x, 1)};
    };
    expect_cuda_matches_cpu(all, {a, b});
    if (is_floating(t)) expect_cuda_matches_cpu([](auto& in) { return std::vector<Tensor>{div(in[0], in[1])}; }, {a, b});
  }
  // type promotion across devices: i32 + f32 scalar, f16 + f32 tensor
  expect_cuda_matches_cpu([](auto& in) { return std::vector<Tensor>{add(in[0], in[1]), mul(in[0], 0.5)}; },
                          {arange(0, 12, 1, {DType::i32}), rnd({12})});
}

// Integer pow wraps on overflow as on the CPU (and PyTorch): 65536^2 in int32 is 0, 3^40 in
// int16 is -6111; negative exponents truncate 1 / x; bool is x || !y.
TEST(CudaElementwise, IntegerPowWrapsAsCpu) {
  DS_REQUIRE_CUDA();
  auto p = [](auto& in) { return std::vector<Tensor>{pow(in[0], in[1])}; };
  expect_cuda_matches_cpu(p, {tensor_i64({65536, 3, -2, 1, -1, 2}).to(DType::i32),
                              tensor_i64({2, 2, 2, -3, -3, -3}).to(DType::i32)});
  expect_cuda_matches_cpu(p, {tensor_i64({3, -3}).to(DType::i16), tensor_i64({40, 41}).to(DType::i16)});
  expect_cuda_matches_cpu(p, {tensor_i64({3, 7}), tensor_i64({45, 63})});
  EXPECT_EQ(pow(tensor_i64({3}).to(DType::i16).to(kCuda), tensor_i64({40}).to(DType::i16).to(kCuda))
                .to(kCPU).to_vector<int64_t>(),
            (std::vector<int64_t>{-6111}));
}

TEST(CudaElementwise, GradientsMatchCpu) {
  DS_REQUIRE_CUDA();
  expect_cuda_grads_match_cpu([](auto& in) { return mul(tanh(in[0]), sigmoid(add(in[1], in[0]))); },
                              {rnd({8, 16}), rnd({16})});
  expect_cuda_grads_match_cpu([](auto& in) { return div(gelu(in[0]), add(exp(in[1]), 1.0)); },
                              {rnd({5, 6}), rnd({5, 1})});
}

TEST(CudaElementwise, InPlaceOnViews) {
  DS_REQUIRE_CUDA();
  Tensor c = rnd({6, 8});
  Tensor g = c.to(kCuda);
  Tensor cs = c.slice(1, 2, 6), gs = g.slice(1, 2, 6);
  cs.add_(ones({6, 4}));
  gs.add_(ones({6, 4}).to(kCuda));
  EXPECT_TRUE(close(g.to(kCPU), c, 1e-6, 0));
  Tensor big = rnd({1 << 20});
  EXPECT_TRUE(close(big.to(kCuda).exp().to(kCPU), big.exp(), 2e-6, 1e-6));
}

}  // namespace
}  // namespace deepseek::testing

#ifdef DEEPSEEK_WITH_CUDA
#include "deepseek/backend/cuda/runtime.h"

namespace deepseek::testing {
namespace {

// Pinned host memory: the copy to the device is asynchronous and the source stays alive until
// it has run; a second stream's use of a block delays its reuse (record_stream).
TEST(CudaDevice, PinnedCopiesAndStreams) {
  DS_REQUIRE_CUDA();
  Tensor host = randn({1 << 20});
  Tensor pinned = cuda::pin_memory(host);
  EXPECT_TRUE(cuda::is_pinned(pinned));
  EXPECT_FALSE(cuda::is_pinned(host));
  Tensor dev = pinned.to(kCuda);
  pinned = Tensor();  // dropped while the copy may still be in flight
  EXPECT_TRUE(close(dev.to(kCPU), host, 0, 0));

  // The public pin_memory (what DataLoader's pin_memory option calls) pins through the hook.
  EXPECT_TRUE(cuda::is_pinned(pin_memory(host)));

  // The side stream outlives every block allocated on it (a block is freed on its stream).
  static cudaStream_t side = [] {
    cudaStream_t s = nullptr;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    return s;
  }();
  ASSERT_NE(side, nullptr);
  Tensor a = ones({4096}, {DType::f32, kCuda});
  Tensor b;
  {
    cuda::Event ready;
    ready.record();
    cuda::StreamGuard g(side);
    ready.wait(side);
    b = mul(a, 3.0);  // queued on the side stream
    cuda::record_stream(a, side);
  }
  a = Tensor();  // freed on its own stream after the side stream's work
  Tensor c = zeros({4096}, {DType::f32, kCuda});  // may reuse a's block, only once it is safe
  cuda::synchronize();
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_TRUE(close(b.to(kCPU), full({4096}, 3.0), 0, 0));
  EXPECT_TRUE(close(c.to(kCPU), zeros({4096}), 0, 0));
}

}  // namespace
}  // namespace deepseek::testing
#endif
