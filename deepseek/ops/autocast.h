// Mixed precision regions (as torch.autocast): while an AutocastGuard is alive on a thread,
// ops on tensors of its device type run in the chosen lower precision (bf16 or f16) where that
// is safe and fast — matrix products and convolutions — and in f32 where precision matters
// (reductions, softmax, norms, exp/log, losses built from them). The casts go through the
// public `cast` op, so autograd and the tracer see them: gradients flow back to f32 weights.
#pragma once

#include "deepseek/core/device.h"
#include "deepseek/core/dtype.h"

namespace deepseek {

enum class AutocastPolicy : uint8_t { none, lower, f32 };

class AutocastGuard {
 public:
  explicit AutocastGuard(DeviceType device = DeviceType::cuda, DType dtype = DType::bf16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DeviceType prev_device_;
  DType prev_dtype_;
};

bool autocast_enabled();
DType autocast_dtype();
// The policy list, by op name (ops not listed run in the dtype they are given).
AutocastPolicy autocast_policy(const char* op);

}  // namespace deepseek
