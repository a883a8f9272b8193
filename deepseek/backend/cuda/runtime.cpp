#include "deepseek/backend/cuda/runtime.h"

#include <mutex>
#include <vector>

#include "deepseek/core/accelerator.h"

namespace deepseek::cuda {
namespace {

constexpr int kMaxDevices = 64;
thread_local cudaStream_t tl_stream[kMaxDevices] = {};

cudaStream_t& compute_stream(int device) {
  static cudaStream_t streams[kMaxDevices] = {};
  static std::once_flag once[kMaxDevices];
  std::call_once(once[device], [&] {
    DeviceGuard g(device);
    DS_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking));
  });
  return streams[device];
}

}  // namespace

int device_count() {
  static const int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: a CPU-only machine
      return 0;
    }
    return c < kMaxDevices ? c : kMaxDevices;
  }();
  return n;
}

int current_device() {
  int d = 0;
  DS_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void set_device(int index) {
  DS_CHECK(index >= 0 && index < device_count(), "cuda:", index, " is not available (",
           device_count(), " CUDA device(s))");
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur == index) return;
  DS_CUDA_CHECK(cudaSetDevice(index));
}

cudaStream_t current_stream(int device) {
  if (device < 0) device = current_device();
  DS_CHECK(device < device_count(), "cuda:", device, " is not available");
  cudaStream_t s = tl_stream[device];
  return s ? s : compute_stream(device);
}

void synchronize(int device) {
  if (device_count() == 0) return;
  DeviceGuard g(device < 0 ? current_device() : device);
  DS_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

StreamGuard::StreamGuard(cudaStream_t stream) : device_(current_device()) {
  previous_ = tl_stream[device_];
  tl_stream[device_] = stream;
}
StreamGuard::~StreamGuard() { tl_stream[device_] = previous_; }

DeviceGuard::DeviceGuard(int index) : previous_(current_device()) { set_device(index); }
DeviceGuard::~DeviceGuard() { (void)cudaSetDevice(previous_); }

Event::Event(bool timing) {
  DS_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}
Event::~Event() {
  if (event_) (void)cudaEventDestroy(event_);
}
void Event::record(cudaStream_t stream) {
  DS_CUDA_CHECK(cudaEventRecord(event_, stream ? stream : current_stream()));
}
void Event::wait(cudaStream_t stream) {
  DS_CUDA_CHECK(cudaStreamWaitEvent(stream ? stream : current_stream(), event_, 0));
}
void Event::synchronize() { DS_CUDA_CHECK(cudaEventSynchronize(event_)); }
bool Event::query() const { return cudaEventQuery(event_) == cudaSuccess; }
float Event::elapsed_ms(const Event& end) const {
  float ms = 0;
  DS_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, end.event_));
  return ms;
}

namespace {
struct InstallHooks {
  InstallHooks() {
    AcceleratorHooks h;
    h.device_count = &device_count;
    h.set_device = &set_device;
    h.synchronize = &synchronize;
    h.pin_memory = &cuda::pin_memory;
    install_accelerator_hooks(h);
  }
} install_hooks;
}  // namespace

}  // namespace deepseek::cuda
