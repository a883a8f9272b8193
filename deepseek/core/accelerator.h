// What the rest of the library may ask of a GPU backend without including it. The CUDA
// backend installs these hooks when its library loads; a CPU-only build keeps the defaults
// (no devices), so code such as the model zoo or the benchmarks compiles either way.
#pragma once

#include <cstdint>
#include <string>

namespace deepseek {

class Tensor;

struct AcceleratorHooks {
  int (*device_count)() = nullptr;          // usable GPUs (0 without a driver or a device)
  void (*set_device)(int index) = nullptr;  // makes `index` current for this thread
  void (*synchronize)(int index) = nullptr; // waits for all work queued on the device
  Tensor (*pin_memory)(const Tensor& cpu_tensor) = nullptr;  // a copy in page-locked memory
};

void install_accelerator_hooks(const AcceleratorHooks& hooks);

int cuda_device_count();  // 0 in a CPU-only build or on a machine without a GPU
bool cuda_is_available();
// Selects the device for this thread (allocations and launches that follow use it).
void cuda_set_device(int index);
// Waits for the device's queued work; used where a host needs a finished result (timing).
void cuda_synchronize(int index = 0);
// A copy of a CPU tensor in page-locked memory, whose copies to a GPU run asynchronously (as
// torch.Tensor.pin_memory). Without a CUDA device there is nothing to pin for: the tensor
// itself is returned.
Tensor pin_memory(const Tensor& cpu_tensor);

// f32 matrix products on the GPU, as torch.set_float32_matmul_precision: "highest" (true f32,
// the default) or "high" (TF32 tensor cores). Convolutions use TF32 by default, as PyTorch's
// cudnn.allow_tf32; set_conv_allow_tf32(false) turns that off.
void set_float32_matmul_precision(const std::string& precision);
const std::string& float32_matmul_precision();
// Sets the precision for a scope and restores the previous one when it ends.
struct Float32MatmulPrecisionScope {
  explicit Float32MatmulPrecisionScope(const std::string& precision) : previous(float32_matmul_precision()) {
    set_float32_matmul_precision(precision);
  }
  ~Float32MatmulPrecisionScope() { set_float32_matmul_precision(previous); }
  Float32MatmulPrecisionScope(const Float32MatmulPrecisionScope&) = delete;
  Float32MatmulPrecisionScope& operator=(const Float32MatmulPrecisionScope&) = delete;
  std::string previous;
};
void set_conv_allow_tf32(bool allow);
bool conv_allow_tf32();

}  // namespace deepseek
