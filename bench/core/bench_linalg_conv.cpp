// bench_linalg_conv: our matmul and conv2d timings, one JSON object per line, for
// bench/core/linalg_conv.py (which runs PyTorch in the same run and writes the table).
//   peak     this machine's f32 FLOP/s from an FMA loop (AVX-512 or AVX2) on all threads
//   matmul   f32 M x K x N through deepseek::matmul (oneDNN)
//   conv     conv2d forward + backward (input and weight grads) through autograd
// Usage: bench_linalg_conv [--threads N] [--quick] [--paced]
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

// Peak probe: each thread runs 12 independent FMA chains held in registers (named variables,
// fully unrolled), enough to cover the FMA latency (4-5 cycles) on 2 ports. The widest
// vector the CPU has is used: AVX-512 where present (oneDNN uses it there), AVX2 otherwise.
#define DS_FMA12(FMA)                                                                        \
  a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);           \
  a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);           \
  a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);

__attribute__((target("avx2,fma"))) double fma_flops_avx2(int64_t iters, float* sink) {
  // Distinct starting values, and an empty asm that claims to change every chain each
  // iteration: otherwise the compiler merges identical chains into one (then the loop is
  // latency-bound and the figure is fiction).
#define DS_INIT(S) a0 = S(1.0f), a1 = S(1.01f), a2 = S(1.02f), a3 = S(1.03f), a4 = S(1.04f), a5 = S(1.05f), \
                   a6 = S(1.06f), a7 = S(1.07f), a8 = S(1.08f), a9 = S(1.09f), a10 = S(1.10f), a11 = S(1.11f)
  __m256 DS_INIT(_mm256_set1_ps);
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k) {
    DS_FMA12(_mm256_fmadd_ps)
    asm volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                 "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = out[0];
  return static_cast<double>(iters) * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) double fma_flops_avx512(int64_t iters, float* sink) {
  __m512 DS_INIT(_mm512_set1_ps);
  const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k) {
    DS_FMA12(_mm512_fmadd_ps)
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                 "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  *sink = _mm512_reduce_add_ps(s);
  return static_cast<double>(iters) * 12 * 16 * 2;
}
#undef DS_FMA12
#undef DS_INIT

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

// Best of ten short runs (a busy machine steals slices), one thread per core, each thread
// running its own chains.
double peak_gflops(int threads) {
  const int64_t iters = 20'000'000;
  const bool wide = has_avx512();
  double best = 0;
  for (int rep = 0; rep < 10; ++rep) {
    double total = 0;
    float sink = 0;
    auto t0 = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      float s;
      total += wide ? fma_flops_avx512(iters, &s) : fma_flops_avx2(iters, &s);
#pragma omp critical
      sink += s;
    }
    double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, total / sec / 1e9);
    if (sink == 12345.f) std::printf("#");
  }
  return best;
}

// Median and fastest ms of `reps` calls after `warmup` ones. With --paced, then print
// {"kind":"pace","name":...,"reps":N} and time `reps` more calls, each after a line on stdin and
// followed by its time in ms, so the driver (linalg_conv.py) alternates them with PyTorch's and
// both sides see the same bursts of load from other tenants of the host. The back-to-back
// median gives the throughput (share of peak); the paced calls give the ratio.
bool g_paced = false;

struct Timing {
  double median_ms, best_ms;  // of the back-to-back calls
};

template <typename F>
Timing time_calls(const std::string& name, F f, int reps, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) f();
  auto timed = [&] {
    auto t0 = Clock::now();
    f();
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(timed());
  if (g_paced) {
    std::printf("{\"kind\":\"pace\",\"name\":\"%s\",\"reps\":%d}\n", name.c_str(), reps), std::fflush(stdout);
    char line[64];
    for (int i = 0; i < reps; ++i) {
      if (!std::fgets(line, sizeof line, stdin)) std::exit(1);  // the driver went away
      std::printf("%.4f\n", timed()), std::fflush(stdout);
    }
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front()};
}

void bench_matmul(int64_t M, int64_t K, int64_t N, int reps) {
  Tensor a = randn({M, K}), b = randn({K, N});
  const std::string name = "matmul_f32_" + std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N);
  const Timing t = time_calls(name, [&] { matmul(a, b); }, reps);
  const double ms = t.median_ms, gf = 2.0 * M * N * K / (ms * 1e-3) / 1e9,
               gf_best = 2.0 * M * N * K / (t.best_ms * 1e-3) / 1e9;
  std::printf("{\"kind\":\"matmul\",\"name\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f,\"gflops_best\":%.2f,\"impl\":\"%s\"}\n",
              name.c_str(), ms, gf, gf_best, cpu::onednn::impl_name("matmul").c_str());
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
  const std::string name = "conv2d_fwd_bwd_" + std::to_string(n) + "x" + std::to_string(cin) + "x" +
                           std::to_string(hw) + "x" + std::to_string(hw) + "_k" + std::to_string(k) + "_to" +
                           std::to_string(cout);
  const double ms = time_calls(name, step, reps).median_ms;
  double fwd_flops = 2.0 * n * cout * hw * hw * cin * k * k;
  std::printf("{\"kind\":\"conv\",\"name\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f,"
              "\"impl_fwd\":\"%s\",\"impl_bwd_data\":\"%s\",\"impl_bwd_weights\":\"%s\"}\n",
              name.c_str(), ms, 3 * fwd_flops / (ms * 1e-3) / 1e9,
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
    else if (!std::strcmp(argv[i], "--paced")) g_paced = true;
  }
  set_num_threads(threads);
  std::printf("{\"kind\":\"peak\",\"name\":\"peak_f32_fma\",\"gflops\":%.2f,\"threads\":%d,\"isa\":\"%s\"}\n",
              peak_gflops(threads), threads, has_avx512() ? "avx512f" : "avx2+fma");
  std::fflush(stdout);
  // 1024^3 takes ~15 ms: 21 calls, so one burst of load on the host moves the median less.
  bench_matmul(1024, 1024, 1024, quick ? 3 : 21);
  bench_matmul(4096, 1024, 1024, quick ? 2 : 5);
  int c = quick ? 2 : 7;  // conv times vary by +-20% run to run on this VM: more reps for a steadier median
  bench_conv(32, 64, 64, 56, 3, c);
  bench_conv(32, 64, 256, 56, 1, c);
  bench_conv(32, 128, 128, 28, 3, c);
  bench_conv(32, 256, 128, 28, 1, c);
  return 0;
}
