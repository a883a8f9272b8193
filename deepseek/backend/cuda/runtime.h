// CUDA devices and streams. Each device has one compute stream (non-blocking, so it never
// waits on the legacy default stream) that kernels, copies and allocations are queued on;
// StreamGuard swaps in another stream for a scope (e.g. a communication stream). The host
// waits only where it needs a value (a copy to the CPU, item(), timing).
#pragma once

#include <cuda_runtime_api.h>

#include "deepseek/backend/cuda/cuda_api.h"
#include "deepseek/core/tensor.h"

namespace deepseek::cuda {

int device_count();  // cached; 0 without a driver or a GPU
int current_device();
void set_device(int index);

// The stream work on `device` (-1: the current device) is queued on, for this thread.
cudaStream_t current_stream(int device = -1);
void synchronize(int device = -1);

class StreamGuard {
 public:
  explicit StreamGuard(cudaStream_t stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  cudaStream_t previous_;
};

// Sets the current device for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();

 private:
  int previous_;
};

// A timing / ordering event on a stream.
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream = nullptr);  // null: the current stream
  void wait(cudaStream_t stream = nullptr);    // makes `stream` wait for this event
  void synchronize();
  bool query() const;                            // finished?
  float elapsed_ms(const Event& end) const;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Marks memory of `t` as used by `stream`, so its free waits for that stream's work
// (PyTorch's record_stream).
void record_stream(const Tensor& t, cudaStream_t stream);

// A CPU tensor in page-locked memory: host<->device copies from it run asynchronously.
Tensor pin_memory(const Tensor& cpu_tensor);
bool is_pinned(const Tensor& t);

// Launch-shape helper: blocks of `threads` covering n items, capped for grid-stride loops.
inline unsigned blocks_for(int64_t n, int threads, int64_t cap = 65535LL * 8) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < cap ? b : cap);
}

}  // namespace deepseek::cuda
