#include "deepseek/ops/dispatcher.h"

#include "deepseek/core/accelerator.h"
#include "deepseek/core/memory_order.h"
#include "deepseek/core/parallel.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

namespace deepseek::ops {
namespace {

std::array<Interposer*, kNumSlots> g_interposers{};
thread_local std::array<bool, kNumSlots> tl_off{};

// Makes sure an error from inside an op names it, whoever threw it.
[[noreturn]] void rethrow_named(const OpDef& def, const Error& e) {
  std::string msg = e.what();
  std::string tag = "[" + def.name + "]";
  if (msg.find(tag) != std::string::npos) throw;
  throw Error(tag + " " + msg);
}

void check_inputs(const OpCall& call) {
  const OpDef& def = *call.def;
  DS_CHECK(def.infer, "[", def.name, "] is registered but has no definition (missing infer)");
  DS_CHECK(def.num_inputs < 0 || static_cast<int>(call.inputs.size()) == def.num_inputs, "[",
           def.name, "] expects ", def.num_inputs, " tensor inputs, got ", call.inputs.size());
}

// Output allocation follows the stride order of an elementwise op's first same-shaped dense
// input, so channels_last inputs give channels_last outputs; other ops follow their
// output_layout rule (conv, norms and pooling keep channels_last), else row-major.
Tensor allocate_like_inputs(const OpCall& call, const TensorMeta& m, size_t index) {
  if (call.def->kind != OpKind::elementwise) {
    if (m.sizes.size() == 4 && call.def->output_layout)
      return Tensor::empty(m.sizes, m.dtype, m.device, call.def->output_layout(call.inputs, call.attrs, index));
    return Tensor::empty(m.sizes, m.dtype, m.device);
  }
  if (auto st = strides_following(call.inputs, m.sizes)) {
    auto storage = std::make_shared<Storage>(numel(m.sizes) * itemsize(m.dtype), m.device);
    return Tensor::make(storage, m.sizes, *st, 0, m.dtype);
  }
  return Tensor::empty(m.sizes, m.dtype, m.device);
}

// DEEPSEEK_PROFILE_OPS=1: time of each kernel by op name, printed at exit; =shapes: by op,
// input dtypes and shapes, ranked by calls x fastest call (the steady state: a one-off such
// as cuDNN's algorithm search does not lead), the first 60 or DEEPSEEK_PROFILE_ROWS. The device is synchronized
// around every kernel, so the figures are exclusive (and the run is slower).
struct OpProfile {
  struct Row {
    double seconds = 0, fastest = 1e30;
    int64_t calls = 0;
  };
  const char* mode = std::getenv("DEEPSEEK_PROFILE_OPS");
  bool on = mode != nullptr;
  bool by_shape = on && std::string(mode) == "shapes";
  std::mutex mu;
  std::map<std::string, Row> rows_by_key;
  ~OpProfile() {
    if (!on || rows_by_key.empty()) return;
    std::vector<std::pair<std::string, Row>> rows(rows_by_key.begin(), rows_by_key.end());
    // By shape, rows are ranked by calls x fastest call (the steady state); by name, by total.
    auto rank = [&](const Row& r) { return by_shape ? r.fastest * static_cast<double>(r.calls) : r.seconds; };
    std::sort(rows.begin(), rows.end(), [&](auto& a, auto& b) { return rank(a.second) > rank(b.second); });
    double total = 0;
    for (auto& r : rows) total += r.second.seconds;
    const char* limit = std::getenv("DEEPSEEK_PROFILE_ROWS");
    size_t keep = limit ? static_cast<size_t>(std::max(1, std::atoi(limit))) : 60;
    if (by_shape && rows.size() > keep) rows.resize(keep);
    std::fprintf(stderr, "%10s %8s %6s %10s  %s\n", "ms", "calls", "%", "fastest_us", "op");
    for (auto& [key, r] : rows)
      std::fprintf(stderr, "%10.2f %8lld %6.1f %10.1f  %s\n", r.seconds * 1e3, static_cast<long long>(r.calls),
                   100.0 * r.seconds / total, r.fastest * 1e6, key.c_str());
  }
};
OpProfile& op_profile() {
  static OpProfile p;
  return p;
}

std::string profile_key(const OpDef& def, const std::vector<Tensor>& in) {
  std::string k = def.name;
  if (!op_profile().by_shape) return k;
  for (const auto& t : in)
    if (t.defined()) k += std::string(" ") + dtype_name(t.dtype()) + to_string(t.sizes()) + (t.is_contiguous() ? "" : "*");
  return k;
}

void run_profiled(const OpDef& def, const KernelFn& k, const std::vector<Tensor>& in, std::vector<Tensor>& outs,
                  const Attrs& attrs, Device dev) {
  if (dev.is_cuda()) cuda_synchronize(dev.index);
  auto t0 = std::chrono::steady_clock::now();
  k(in, outs, attrs);
  if (dev.is_cuda()) cuda_synchronize(dev.index);
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string key = profile_key(def, in);
  OpProfile& p = op_profile();
  std::lock_guard<std::mutex> lock(p.mu);
  auto& r = p.rows_by_key[key];
  r.seconds += dt;
  r.fastest = std::min(r.fastest, dt);
  r.calls += 1;
}

std::vector<Tensor> run_chain(int slot, OpCall& call) {
  for (; slot < kNumSlots; ++slot) {
    Interposer* ip = g_interposers[slot];
    if (ip && !tl_off[slot] && ip->active(call)) return ip->intercept(call, Next(slot + 1));
  }
  return run_kernel(call);
}

}  // namespace

std::vector<Tensor> Next::operator()(OpCall& call) const { return run_chain(slot_, call); }

void set_interposer(Slot slot, Interposer* interposer) {
  g_interposers[static_cast<int>(slot)] = interposer;
}

InterposerOff::InterposerOff(Slot slot) : slot_(static_cast<int>(slot)), previous_(tl_off[slot_]) {
  tl_off[slot_] = true;
}
InterposerOff::~InterposerOff() { tl_off[slot_] = previous_; }

std::vector<Tensor> run_kernel(OpCall& call) {
  const OpDef& def = *call.def;
  try {
    if (def.kind == OpKind::view) {
      DS_CHECK(def.make_view, "view op has no make_view");
      std::vector<Tensor> outs = def.make_view(call.inputs, call.attrs);
      const Tensor& src = call.inputs[0];
      auto base = src.impl()->view_base ? src.impl()->view_base : src.impl_ptr();
      for (auto& o : outs) o.impl()->view_base = base;
      return outs;
    }
    std::vector<Tensor> outs;
    if (call.inplace_self.defined()) {
      outs.push_back(call.inplace_self);
    } else {
      outs.reserve(call.out_meta.size());
      for (size_t i = 0; i < call.out_meta.size(); ++i) outs.push_back(allocate_like_inputs(call, call.out_meta[i], i));
    }
    Device dev = outs.empty() ? (call.inputs.empty() ? kCPU : call.inputs[0].device())
                              : outs[0].device();
    if (dev.is_meta()) return outs;
    const KernelFn& k = def.kernels[static_cast<int>(dev.type)];
    DS_CHECK(k, "has no kernel for device ", dev.str());
    if (!def.deterministic) check_deterministic(def.name.c_str());
    static const bool profiling = op_profile().on;
    if (profiling) run_profiled(def, k, call.inputs, outs, call.attrs, dev);
    else k(call.inputs, outs, call.attrs);
    if (call.inplace_self.defined()) call.inplace_self.bump_version();
    return outs;
  } catch (const Error& e) {
    rethrow_named(def, e);
  }
}

static void prepare(OpCall& call) {
  const OpDef& def = *call.def;
  try {
    check_inputs(call);
    for (size_t i = 0; i < call.inputs.size(); ++i)
      DS_CHECK(call.inputs[i].defined(), "input ", i, " is an undefined tensor");
    if (!call.inputs.empty()) {
      Device d = call.inputs[0].device();
      for (size_t i = 1; i < call.inputs.size(); ++i)
        DS_CHECK(call.inputs[i].device() == d, "expected all inputs on one device, got ",
                 d.str(), " and ", call.inputs[i].device().str(), " (input ", i,
                 "); move them with .to(device)");
    }
    call.out_meta = def.infer(call.inputs, call.attrs);
    DS_CHECK(static_cast<int>(call.out_meta.size()) == def.num_outputs || def.num_outputs < 0,
             "inference returned ", call.out_meta.size(), " outputs");
  } catch (const Error& e) {
    rethrow_named(def, e);
  }
}

std::vector<Tensor> dispatch(OpId op, std::vector<Tensor> inputs, Attrs attrs) {
  OpCall call{&Registry::get().at(op), std::move(inputs), std::move(attrs), {}, {}};
  Interposer* autocast = g_interposers[static_cast<int>(Slot::autocast)];
  if (autocast && !tl_off[0] && autocast->active(call)) {
    // Autocast rewrites inputs before inference; it continues through prepare itself.
    InterposerOff off(Slot::autocast);
    autocast->intercept(call, Next(-1));
  }
  prepare(call);
  return run_chain(static_cast<int>(Slot::tracer), call);
}

Tensor dispatch1(OpId op, std::vector<Tensor> inputs, Attrs attrs) {
  return dispatch(op, std::move(inputs), std::move(attrs))[0];
}

static int category(DType t) { return is_floating(t) ? 2 : (t == DType::b8 ? 0 : 1); }

Tensor& dispatch_inplace(OpId op, Tensor& self, std::vector<Tensor> inputs, Attrs attrs) {
  const OpDef& def = Registry::get().at(op);
  try {
    DS_CHECK(def.kind != OpKind::view, "a view op cannot run in place");
    DS_CHECK(def.num_outputs == 1, "in-place form needs a single-output op");
    for (int64_t d = 0; d < self.dim(); ++d)
      DS_CHECK(self.strides()[d] != 0 || self.sizes()[d] <= 1,
               "cannot write in place into an expanded tensor (stride 0 in dim ", d,
               "): several elements share one memory location; call .contiguous() first");
    // The result is computed in self's dtype (PyTorch's can_cast: never float into integer).
    static const OpId cast_id = op_id("cast");
    for (size_t i = 1; i < inputs.size(); ++i) {
      bool index_like = std::find(def.nondiff_inputs.begin(), def.nondiff_inputs.end(),
                                  static_cast<int>(i)) != def.nondiff_inputs.end();
      if (def.casts_to_self || index_like || !inputs[i].defined() ||
          inputs[i].dtype() == self.dtype())
        continue;
      DS_CHECK(category(inputs[i].dtype()) <= category(self.dtype()), "result of dtype ",
               dtype_name(inputs[i].dtype()), " cannot be written into a ",
               dtype_name(self.dtype()), " tensor in place");
      inputs[i] = dispatch1(cast_id, {inputs[i]}, Attrs().set("dtype", std::string(dtype_name(self.dtype()))));
    }
  } catch (const Error& e) {
    rethrow_named(def, e);
  }
  OpCall call{&def, std::move(inputs), std::move(attrs), {}, self};
  prepare(call);
  try {
    const TensorMeta& m = call.out_meta[0];
    DS_CHECK(m.sizes == self.sizes(), "in-place result of shape ", to_string(m.sizes),
             " does not match the written tensor's shape ", to_string(self.sizes()));
    DS_CHECK(m.dtype == self.dtype(), "in-place result of dtype ", dtype_name(m.dtype),
             " cannot be written into a ", dtype_name(self.dtype()), " tensor");
  } catch (const Error& e) {
    rethrow_named(def, e);
  }
  run_chain(static_cast<int>(Slot::tracer), call);
  return self;
}

}  // namespace deepseek::ops
