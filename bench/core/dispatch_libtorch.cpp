// The reference for dispatch overhead: the same loops in C++ against libtorch (Debian's
// libtorch-dev), built only when CMake finds it. Same JSON lines as bench_core.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

static double median_seconds(const std::function<void()>& f, int iters) {
  for (int i = 0; i < 2; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main() {
  torch::Tensor x = torch::ones({1}, torch::requires_grad());
  torch::Tensor y = torch::ones({1}, torch::requires_grad());
  const int reps = 10000;
  double fb = median_seconds([&] {
    for (int i = 0; i < reps; ++i) {
      auto z = torch::add(x, y);
      z.backward();
    }
  }, 5) / reps;
  std::printf("{\"name\": \"dispatch add 1-elem fwd+bwd\", \"seconds\": %.9g}\n", fb);
  torch::NoGradGuard ng;
  double f = median_seconds([&] {
    for (int i = 0; i < reps; ++i) torch::add(x, y);
  }, 5) / reps;
  std::printf("{\"name\": \"dispatch add 1-elem fwd (no grad)\", \"seconds\": %.9g}\n", f);
  std::printf("{\"torch_version\": \"%s\"}\n", TORCH_VERSION);
  return 0;
}
