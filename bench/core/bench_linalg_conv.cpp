// bench_linalg_conv: our matmul and conv2d timings, one JSON object per line, for
// bench/core/linalg_conv.py (which runs PyTorch in the same run and writes the table).
//   peak     this machine's f32 FLOP/s from an AVX2 FMA loop on all threads
//   matmul   f32 M x K x N through deepseek::matmul (oneDNN)
//   conv     conv2d forward + backward (input and weight grads) through autograd
// Usage: bench_linalg_conv [--threads N] [--quick]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "deepseek/autograd/engine.h"
#include "deepseek/backend/cpu/onednn/onednn.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/ops.h"

using namespace deepseek;
using Clock = std::chrono::steady_clock;

namespace {

// 12 independent accumulator chains hide the FMA latency (4-5 cycles, 2 ports).
__attribute__((target("avx2,fma"))) double fma_flops_per_thread(int64_t iters, float* sink) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + 1e-7f * static_cast<float>(i));
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = out[0];
  return static_cast<double>(iters) * 12 * 8 * 2;
}

double peak_gflops(int threads) {
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double total = 0;
    float sink = 0;
    auto t0 = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      float s;
      total += fma_flops_per_thread(iters, &s);
#pragma omp critical
      sink += s;
    }
    double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, total / sec / 1e9);
    if (sink == 12345.f) std::printf("#");
  }
  return best;
}

template <typename F>
double median_ms(F f, int reps, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void bench_matmul(int64_t M, int64_t K, int64_t N, int reps) {
  Tensor a = randn({M, K}), b = randn({K, N});
  double ms = median_ms([&] { matmul(a, b); }, reps);
  double gf = 2.0 * M * N * K / (ms * 1e-3) / 1e9;
  std::printf("{\"kind\":\"matmul\",\"name\":\"matmul_f32_%ldx%ldx%ld\",\"ms\":%.4f,\"gflops\":%.2f,\"impl\":\"%s\"}\n",
              (long)M, (long)K, (long)N, ms, gf, cpu::onednn::impl_name("matmul").c_str());
  std::fflush(stdout);
}

void bench_conv(int64_t n, int64_t cin, int64_t cout, int64_t hw, int64_t k, int reps) {
  int64_t p = k / 2;
  Tensor x = randn({n, cin, hw, hw}).requires_grad_(true);
  Tensor w = mul(randn({cout, cin, k, k}), 0.05).detach().requires_grad_(true);
  Tensor g = randn({n, cout, hw, hw});
  auto step = [&] {
    Tensor y = conv2d(x, w, {}, {1, 1}, {p, p});
    auto grads = autograd::grad({y}, {x, w}, {g});
  };
  double ms = median_ms(step, reps);
  double fwd_flops = 2.0 * n * cout * hw * hw * cin * k * k;
  std::printf("{\"kind\":\"conv\",\"name\":\"conv2d_fwd_bwd_%ldx%ldx%ldx%ld_k%ld_to%ld\",\"ms\":%.4f,\"gflops\":%.2f,"
              "\"impl_fwd\":\"%s\",\"impl_bwd_data\":\"%s\",\"impl_bwd_weights\":\"%s\"}\n",
              (long)n, (long)cin, (long)hw, (long)hw, (long)k, (long)cout, ms, 3 * fwd_flops / (ms * 1e-3) / 1e9,
              cpu::onednn::impl_name("conv_fwd").c_str(), cpu::onednn::impl_name("conv_bwd_data").c_str(),
              cpu::onednn::impl_name("conv_bwd_weights").c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
  }
  set_num_threads(threads);
  std::printf("{\"kind\":\"peak\",\"name\":\"peak_f32_fma\",\"gflops\":%.2f,\"threads\":%d}\n", peak_gflops(threads),
              threads);
  std::fflush(stdout);
  int r = quick ? 3 : 7;
  bench_matmul(1024, 1024, 1024, r);
  bench_matmul(4096, 1024, 1024, quick ? 2 : 5);
  int c = quick ? 2 : 3;
  bench_conv(32, 64, 64, 56, 3, c);
  bench_conv(32, 64, 256, 56, 1, c);
  bench_conv(32, 128, 128, 28, 3, c);
  bench_conv(32, 256, 128, 28, 1, c);
  return 0;
}
