// Core CPU benchmarks, ours only; bench/core/core.py runs PyTorch on the same workloads in the
// same run and computes the ratios. Prints one JSON object per line:
//   {"name": ..., "seconds": median seconds per iteration}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/ops.h"

using namespace deepseek;

static double median_seconds(const std::function<void()>& f, int iters, int warmup = 2) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

static void report(const std::string& name, double s) {
  std::printf("{\"name\": \"%s\", \"seconds\": %.9g}\n", name.c_str(), s);
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const char* n) { return only.empty() || only == n; };
  manual_seed(0);
  const int64_t n = 16 << 20;  // 16M elements
  if (want("elementwise")) {
    autograd::NoGradGuard ng;
    Tensor a = randn({n}), b = randn({n});
    report("chain add_mul_relu 16M f32", median_seconds([&] { relu(mul(add(a, b), b)); }, 10));
    report("exp 16M f32", median_seconds([&] { exp(a); }, 10));
    report("tanh 16M f32", median_seconds([&] { tanh(a); }, 10));
    report("sigmoid_mul 16M f32", median_seconds([&] { mul(sigmoid(a), a); }, 10));
    report("sum 16M f32", median_seconds([&] { sum(a); }, 10));
    Tensor m = reshape(a, {4096, 4096});
    report("sum rows 4096x4096 f32", median_seconds([&] { sum(m, {1}); }, 10));
    report("sum cols 4096x4096 f32", median_seconds([&] { sum(m, {0}); }, 10));
    report("softmax 4096x4096 f32", median_seconds([&] { softmax(m, 1); }, 10));
    report("add broadcast 4096x4096 + 4096", median_seconds([&] { add(m, slice(a, 0, 0, 4096)); }, 10));
    report("transpose copy 4096x4096", median_seconds([&] { contiguous(transpose(m, 0, 1)); }, 10));
  }
  if (want("dispatch")) {
    Tensor x = ones({1}).requires_grad_(), y = ones({1}).requires_grad_();
    const int reps = 10000;
    report("dispatch add 1-elem fwd+bwd", median_seconds([&] {
             for (int i = 0; i < reps; ++i) {
               Tensor z = add(x, y);
               z.backward();
             }
           }, 5) / reps);
    autograd::NoGradGuard ng;
    report("dispatch add 1-elem fwd (no grad)", median_seconds([&] {
             for (int i = 0; i < reps; ++i) add(x, y);
           }, 5) / reps);
  }
  return 0;
}
