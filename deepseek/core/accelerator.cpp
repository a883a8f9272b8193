#include "deepseek/core/accelerator.h"

#include "deepseek/core/error.h"
#include "deepseek/core/tensor.h"

namespace deepseek {
namespace {
AcceleratorHooks& hooks() {
  static AcceleratorHooks h;
  return h;
}
}  // namespace

void install_accelerator_hooks(const AcceleratorHooks& h) { hooks() = h; }

int cuda_device_count() { return hooks().device_count ? hooks().device_count() : 0; }
bool cuda_is_available() { return cuda_device_count() > 0; }

void cuda_set_device(int index) {
  DS_CHECK(index >= 0 && index < cuda_device_count(), "cuda:", index,
           " is not available: this process sees ", cuda_device_count(), " CUDA device(s)");
  hooks().set_device(index);
}

void cuda_synchronize(int index) {
  if (hooks().synchronize) hooks().synchronize(index);
}

Tensor pin_memory(const Tensor& cpu_tensor) {
  DS_CHECK(cpu_tensor.defined() && cpu_tensor.device().is_cpu(), "pin_memory needs a CPU tensor, got ",
           cpu_tensor.defined() ? cpu_tensor.device().str() : std::string("an undefined tensor"));
  return cuda_is_available() && hooks().pin_memory ? hooks().pin_memory(cpu_tensor) : cpu_tensor;
}

namespace {
std::string g_matmul_precision = "highest";
bool g_conv_tf32 = true;
}  // namespace

void set_float32_matmul_precision(const std::string& precision) {
  DS_CHECK(precision == "highest" || precision == "high" || precision == "medium",
           "float32 matmul precision must be highest, high or medium, got '", precision, "'");
  g_matmul_precision = precision;
}
const std::string& float32_matmul_precision() { return g_matmul_precision; }
void set_conv_allow_tf32(bool allow) { g_conv_tf32 = allow; }
bool conv_allow_tf32() { return g_conv_tf32; }

}  // namespace deepseek
