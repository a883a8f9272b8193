// Threading: one OpenMP pool (oneDNN uses the same). parallel_for splits a range over it, but
// runs serially when called from a thread other than the main compute thread (data loaders,
// communication, autograd helpers), so a 2-core machine never hosts several thread teams.
#pragma once

#include <cstdint>
#include <functional>

namespace deepseek {

int num_threads();
void set_num_threads(int n);
bool in_parallel_region();
bool is_compute_thread();
// Threads a parallel region started here may use: num_threads() on the compute thread outside
// a parallel region, else 1 (the rule parallel_for follows; kernels with their own OpenMP
// regions, as the CPU sgemm, ask it too).
int usable_threads();

// Marks the current thread as the compute thread for its lifetime (e.g. a worker process's
// main loop that is not the process's first thread).
struct ComputeThreadScope {
  ComputeThreadScope();
  ~ComputeThreadScope();
  bool previous;
};

// f(begin, end) on chunks of at least `grain` elements.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& f);

// Deterministic mode: every op picks a deterministic kernel or raises.
bool deterministic();
void set_deterministic(bool on);
void check_deterministic(const char* op);  // raises when deterministic mode is on

}  // namespace deepseek
