#include "deepseek/core/parallel.h"

#include <omp.h>

#include <atomic>
#include <exception>
#include <thread>

#include "deepseek/core/error.h"

namespace deepseek {
namespace {
const std::thread::id g_main_thread = std::this_thread::get_id();
thread_local int tl_compute_override = -1;  // -1: decide by thread id
std::atomic<bool> g_deterministic{false};
}  // namespace

int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) {
  DS_CHECK(n > 0, "set_num_threads: need a positive count, got ", n);
  omp_set_num_threads(n);
}
bool in_parallel_region() { return omp_in_parallel(); }

bool is_compute_thread() {
  if (tl_compute_override >= 0) return tl_compute_override == 1;
  return std::this_thread::get_id() == g_main_thread;
}

int usable_threads() { return omp_in_parallel() || !is_compute_thread() ? 1 : num_threads(); }

ComputeThreadScope::ComputeThreadScope() : previous(is_compute_thread()) { tl_compute_override = 1; }
ComputeThreadScope::~ComputeThreadScope() { tl_compute_override = previous ? 1 : 0; }

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& f) {
  if (begin >= end) return;
  int64_t n = end - begin;
  int threads = usable_threads();
  if (grain < 1) grain = 1;
  if (threads <= 1 || n <= grain) {
    f(begin, end);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  // An exception must not leave an OpenMP region (that terminates): keep the first, rethrow.
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t per = (n + nt - 1) / nt;
    int64_t b = begin + t * per, e = std::min(end, b + per);
    try {
      if (b < e) f(b, e);
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

bool deterministic() { return g_deterministic.load(std::memory_order_relaxed); }
void set_deterministic(bool on) { g_deterministic.store(on); }
void check_deterministic(const char* op) {
  DS_CHECK(!deterministic(), "[", op, "] has no deterministic implementation and deterministic "
           "mode is on (set_deterministic(false) to allow it)");
}

}  // namespace deepseek
