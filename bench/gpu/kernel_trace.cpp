// libkernel_trace.so: records every kernel, memcpy and memset a process runs on the GPU, through
// CUPTI's activity API, and writes them as CSV (kind, start_ns, end_ns, stream, name) to the
// file named by $DEEPSEEK_KERNEL_TRACE. Loaded with LD_PRELOAD into any CUDA program, ours or
// PyTorch, so both sides of a benchmark are traced the same way; bench/gpu/kernel_trace.py
// compares two traces step by step (busy and idle time, launches, where the time goes).
#include <cupti.h>
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

FILE* g_out = nullptr;
std::mutex g_mutex;
std::unordered_map<const char*, std::string> g_names;  // CUPTI's name pointers live as long as the process

const std::string& demangled(const char* name) {
  auto it = g_names.find(name);
  if (it != g_names.end()) return it->second;
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : name;
  std::free(d);
  for (char& c : s)
    if (c == ',' || c == '\n') c = ';';  // one CSV field
  return g_names.emplace(name, std::move(s)).first->second;
}

void flush_at_exit();

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  // Registered at the first activity, after the CUDA runtime registered its own teardown, so
  // it runs before that teardown (exit handlers run in reverse order).
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(flush_at_exit); });
  *size = 8 << 20;
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, *size));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  CUpti_Activity* r = nullptr;
  while (g_out && cuptiActivityGetNextRecord(buffer, valid, &r) == CUPTI_SUCCESS) {
    if (r->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || r->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
      auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(r);
      std::fprintf(g_out, "kernel,%llu,%llu,%u,%s\n", static_cast<unsigned long long>(k->start),
                   static_cast<unsigned long long>(k->end), k->streamId, demangled(k->name).c_str());
    } else if (r->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      auto* m = reinterpret_cast<CUpti_ActivityMemcpy6*>(r);
      std::fprintf(g_out, "memcpy,%llu,%llu,%u,memcpy kind %u (%llu bytes)\n", static_cast<unsigned long long>(m->start),
                   static_cast<unsigned long long>(m->end), m->streamId, static_cast<unsigned>(m->copyKind),
                   static_cast<unsigned long long>(m->bytes));
    } else if (r->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      auto* m = reinterpret_cast<CUpti_ActivityMemset4*>(r);
      std::fprintf(g_out, "memset,%llu,%llu,%u,memset (%llu bytes)\n", static_cast<unsigned long long>(m->start),
                   static_cast<unsigned long long>(m->end), m->streamId, static_cast<unsigned long long>(m->bytes));
    }
  }
  std::free(buffer);
}

void flush_at_exit() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_out) std::fclose(g_out);
  g_out = nullptr;
}

__attribute__((constructor)) void start_tracing() {
  const char* path = std::getenv("DEEPSEEK_KERNEL_TRACE");
  if (!path || !*path) return;
  g_out = std::fopen(path, "w");
  if (!g_out) {
    std::fprintf(stderr, "kernel_trace: cannot write %s\n", path);
    return;
  }
  std::fprintf(g_out, "kind,start_ns,end_ns,stream,name\n");
  if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET) != CUPTI_SUCCESS) {
    std::fprintf(stderr, "kernel_trace: CUPTI refused activity tracing\n");
    return;
  }
}

}  // namespace
