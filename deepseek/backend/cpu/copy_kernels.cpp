// Casts, copies, fills and creation kernels (including Philox random fills). Memory-bound, so
// compiled once (not per CPU capability like vec/): 100 cast pairs are costly to build.
#include <cmath>

#include "deepseek/backend/cpu/loops.h"
#include "deepseek/core/generator.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

void reg(const char* op, ops::KernelFn fn) {
  ops::Registry::get().register_kernel(op, DeviceType::cpu, std::move(fn));
}

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return static_cast<opmath_t<From>>(v) != 0;
  else return static_cast<To>(static_cast<opmath_t<To>>(static_cast<opmath_t<From>>(v)));
}

// dst = src (broadcast), converting dtypes.
void copy_into(Tensor& dst, const Tensor& src) {
  visit_dtype(dst.dtype(), [&](auto to) {
    using To = typename decltype(to)::type;
    visit_dtype(src.dtype(), [&](auto from) {
      using From = typename decltype(from)::type;
      elementwise<To, From>(dst, {&src}, [](From v) { return convert<To>(v); });
    });
  });
}

template <typename T>
void fill_value(Tensor& out, const Scalar& v) {
  T value = v.to<T>();
  elementwise<T>(out, {}, [value]() { return value; });
}

template <typename F>
void fill_indexed(Tensor& out, F f) {  // out is fresh and contiguous: out[i] = f(i)
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = convert<T>(f(i));
    });
  });
}

void register_copy_kernels() {
  reg("cast", [](auto& in, auto& out, auto&) { copy_into(out[0], in[0]); });
  reg("copy", [](auto& in, auto& out, auto&) { copy_into(out[0], in[1]); });
  reg("clone", [](auto& in, auto& out, auto&) { copy_into(out[0], in[0]); });
  reg("empty", [](auto&, auto&, auto&) {});
  auto fill = [](const std::vector<Tensor>&, std::vector<Tensor>& out, const ops::Attrs& a) {
    Scalar v = a.scalar("value");
    visit_dtype(out[0].dtype(), [&](auto tag) { fill_value<typename decltype(tag)::type>(out[0], v); });
  };
  reg("full", fill);
  reg("fill", fill);
  reg("arange", [](auto&, auto& out, auto& a) {
    double start = a.template get<double>("start"), step = a.template get<double>("step");
    fill_indexed(out[0], [=](int64_t i) { return start + static_cast<double>(i) * step; });
  });
  reg("linspace", [](auto&, auto& out, auto& a) {
    double start = a.template get<double>("start"), end = a.template get<double>("end");
    int64_t n = out[0].numel();
    double step = n > 1 ? (end - start) / static_cast<double>(n - 1) : 0;
    // Symmetric from both ends, as PyTorch, so the last value is exactly `end`.
    fill_indexed(out[0], [=](int64_t i) {
      return i < n / 2 ? start + step * static_cast<double>(i)
                       : end - step * static_cast<double>(n - 1 - i);
    });
  });
  reg("eye", [](auto&, auto& out, auto&) {
    int64_t cols = out[0].sizes()[1];
    fill_indexed(out[0], [=](int64_t i) { return (i / cols) == (i % cols) ? 1.0 : 0.0; });
  });
  reg("rand", [](auto&, auto& out, auto& a) {
    uint64_t seed = static_cast<uint64_t>(a.template get<int64_t>("seed"));
    uint64_t off = static_cast<uint64_t>(a.template get<int64_t>("offset"));
    fill_indexed(out[0], [=](int64_t i) {
      auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
      return static_cast<double>(Philox::uniform(b[i % 4]));
    });
  });
  reg("randn", [](auto&, auto& out, auto& a) {
    uint64_t seed = static_cast<uint64_t>(a.template get<int64_t>("seed"));
    uint64_t off = static_cast<uint64_t>(a.template get<int64_t>("offset"));
    fill_indexed(out[0], [=](int64_t i) {
      auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
      return static_cast<double>(Philox::normal(b, static_cast<int>(i % 4)));
    });
  });
  reg("randint", [](auto&, auto& out, auto& a) {
    uint64_t seed = static_cast<uint64_t>(a.template get<int64_t>("seed"));
    uint64_t off = static_cast<uint64_t>(a.template get<int64_t>("offset"));
    int64_t low = a.template get<int64_t>("low");
    uint64_t range = static_cast<uint64_t>(a.template get<int64_t>("high") - low);
    fill_indexed(out[0], [=](int64_t i) {
      auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
      return static_cast<double>(low + static_cast<int64_t>(b[i % 4] % range));
    });
  });
  reg("as_strided_scatter", [](auto& in, auto& out, auto& a) {
    copy_into(out[0], in[0]);
    auto s = a.template get<std::vector<int64_t>>("sizes");
    auto st = a.template get<std::vector<int64_t>>("strides");
    Tensor window = Tensor::make(out[0].storage(), Shape(s.begin(), s.end()),
                                 Strides(st.begin(), st.end()), a.template get<int64_t>("offset"),
                                 out[0].dtype());
    copy_into(window, in[1]);
  });
}

DS_REGISTER(register_copy_kernels);

}  // namespace
}  // namespace deepseek::cpu
