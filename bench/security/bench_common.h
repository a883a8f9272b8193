// Shared helpers of bench_security: timing, the SEAL reference run, JSON output.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
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
    t.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

inline double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

// Median process CPU time of fn (all threads): on a loaded shared machine wall time mostly
// measures the scheduler; CPU time is what the op itself costs.
inline double median_cpu_ms(const std::function<void()>& fn, int reps) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double c0 = process_cpu_ms();
    fn();
    t.push_back(process_cpu_ms() - c0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Median wall and median process CPU time of the same runs (after one warm-up run).
struct Timing {
  double wall_ms, cpu_ms;
};
inline Timing median_timing(const std::function<void()>& fn, int reps) {
  fn();
  std::vector<double> w, c;
  for (int i = 0; i < reps; ++i) {
    const double c0 = process_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    w.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    c.push_back(process_cpu_ms() - c0);
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return {w[w.size() / 2], c[c.size() / 2]};
}

}  // namespace deepseek::bench
