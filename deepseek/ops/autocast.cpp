#include "deepseek/ops/autocast.h"

#include <string_view>
#include <vector>

#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/ops.h"

namespace deepseek {
namespace {

struct State {
  bool enabled = false;
  DeviceType device = DeviceType::cuda;
  DType dtype = DType::bf16;
};
thread_local State tl_state;

// PyTorch's CUDA autocast lists, for the ops this library defines.
constexpr const char* kLower[] = {"matmul", "mm", "bmm", "linear", "addmm", "conv2d", "conv_transpose2d",
                                  "conv2d_backward_input", "conv2d_backward_weight"};
constexpr const char* kF32[] = {"exp", "log", "log1p", "expm1", "reciprocal", "rsqrt", "pow", "pow_scalar",
                                "softplus", "sum", "prod", "cumsum", "norm", "softmax", "log_softmax",
                                "layer_norm", "group_norm", "rms_norm"};

// Policy per OpId, built once from the lists above.
const std::vector<AutocastPolicy>& policies() {
  static const std::vector<AutocastPolicy> table = [] {
    auto& reg = ops::Registry::get();
    std::vector<AutocastPolicy> t(reg.all().size() + 64, AutocastPolicy::none);
    for (const auto& d : reg.all()) {
      AutocastPolicy p = autocast_policy(d.name.c_str());
      if (d.id < t.size()) t[d.id] = p;
    }
    return t;
  }();
  return table;
}

class AutocastInterposer final : public ops::Interposer {
 public:
  bool active(const ops::OpCall&) const override { return tl_state.enabled; }

  std::vector<Tensor> intercept(ops::OpCall& call, const ops::Next&) override {
    const auto& table = policies();
    AutocastPolicy p = call.def->id < table.size() ? table[call.def->id] : AutocastPolicy::none;
    if (p == AutocastPolicy::none || call.inputs.empty() || !call.inputs[0].defined() ||
        call.inputs[0].device().type != tl_state.device)
      return {};
    DType want = p == AutocastPolicy::lower ? tl_state.dtype : DType::f32;
    for (size_t i = 0; i < call.inputs.size(); ++i) {
      Tensor& t = call.inputs[i];
      if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == want || t.dtype() == DType::f64) continue;
      bool index_like = false;
      for (int k : call.def->nondiff_inputs) index_like |= k == static_cast<int>(i);
      if (index_like) continue;
      // lower: every f32 operand goes down; f32: every f16/bf16 operand goes up.
      if (p == AutocastPolicy::lower && t.dtype() != DType::f32) continue;
      t = cast(t, want);
    }
    return {};
  }
};

struct Install {
  Install() {
    static AutocastInterposer instance;
    ops::set_interposer(ops::Slot::autocast, &instance);
  }
} install;

}  // namespace

AutocastGuard::AutocastGuard(DeviceType device, DType dtype, bool enabled)
    : prev_enabled_(tl_state.enabled), prev_device_(tl_state.device), prev_dtype_(tl_state.dtype) {
  DS_CHECK(dtype == DType::bf16 || dtype == DType::f16, "autocast runs in bf16 or f16, got ", dtype_name(dtype));
  tl_state = {enabled, device, dtype};
}

AutocastGuard::~AutocastGuard() { tl_state = {prev_enabled_, prev_device_, prev_dtype_}; }

bool autocast_enabled() { return tl_state.enabled; }
DType autocast_dtype() { return tl_state.dtype; }

AutocastPolicy autocast_policy(const char* op) {
  std::string_view name(op);
  for (const char* n : kLower)
    if (name == n) return AutocastPolicy::lower;
  for (const char* n : kF32)
    if (name == n) return AutocastPolicy::f32;
  return AutocastPolicy::none;
}

}  // namespace deepseek
