// Shared helpers of bench_security: timing, the SEAL reference run, JSON output.
#pragma once

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace deepseek::bench {

struct BenchResult {
  std::string name;
  double ours = 0, reference = NAN;
  std::string unit, note;
};

inline double median_ms(const std::function<void()>& fn, int reps) {
  fn();  // warm up (caches, Galois tables, allocator)
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace deepseek::bench
