// Reductions on CUDA: sum, mean, prod, norm, any, all (amax/amin/max/min/argmax/argmin are in
// reduce_arg.cu). One generic kernel (device/reduce.cuh) reduces any set of dims of a strided
// input; the reducers below say what is accumulated. f16/bf16 accumulate in f32, integer and
// bool sums in i64 (the op definition gives them an i64 output). Deterministic: a fixed
// launch shape gives a fixed summation order, no atomics.
#include <cmath>

#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

template <typename T> using sum_acc_t = std::conditional_t<is_float_v<T>, opmath<T>, int64_t>;

// sum / mean. Out is T for floating inputs, i64 otherwise.
template <typename T, typename Out>
struct SumR {
  using In = T;
  using Acc = sum_acc_t<T>;
  Out* out;
  bool mean;
  int64_t count;
  __device__ Acc init() const { return Acc(0); }
  __device__ Acc step(Acc a, T x, int64_t) const { return a + cvt<Acc>(x); }
  __device__ Acc merge(Acc a, Acc b) const { return a + b; }
  __device__ void write(int64_t o, Acc a) const {
    if constexpr (is_float_v<T>) {
      if (mean) a = a / static_cast<Acc>(count);  // count 0: 0/0 = NaN, as on the CPU
    }
    out[o] = cvt<Out>(a);
  }
};

// prod: integers and bool multiply in i64 (the result wraps like the CPU's narrower product).
template <typename T>
struct ProdR {
  using In = T;
  using Acc = sum_acc_t<T>;
  T* out;
  __device__ Acc init() const { return Acc(1); }
  __device__ Acc step(Acc a, T x, int64_t) const { return a * cvt<Acc>(x); }
  __device__ Acc merge(Acc a, Acc b) const { return a * b; }
  __device__ void write(int64_t o, Acc a) const { out[o] = cvt<T>(a); }
};

template <typename T, bool IsAll>
struct AnyAllR {
  using In = T;
  using Acc = bool;
  bool* out;
  __device__ Acc init() const { return IsAll; }
  __device__ Acc step(Acc a, T x, int64_t) const {
    bool nz;
    if constexpr (is_float_v<T>) nz = cvt<opmath<T>>(x) != opmath<T>(0);
    else nz = x != T(0);
    return IsAll ? (a && nz) : (a || nz);
  }
  __device__ Acc merge(Acc a, Acc b) const { return IsAll ? (a && b) : (a || b); }
  __device__ void write(int64_t o, Acc a) const { out[o] = a; }
};

// p-norm. mode: 0 count of nonzeros, 1 sum |x|, 2 sqrt(sum x^2), 3 max |x|, 4 min |x|,
// 5 (sum |x|^p)^(1/p). NaN propagates through max/min, as the CPU kernel.
template <typename T>
struct NormR {
  using In = T;
  using Acc = opmath<T>;
  T* out;
  int mode;
  Acc p;
  __device__ static Acc minmax(Acc a, Acc b, bool is_max) {
    if (a != a) return a;
    if (b != b) return b;
    return is_max ? (b > a ? b : a) : (b < a ? b : a);
  }
  __device__ Acc init() const {
    return mode == 4 ? ::cuda::std::numeric_limits<Acc>::infinity() : Acc(0);
  }
  __device__ Acc step(Acc a, T xs, int64_t) const {
    Acc x = cvt<Acc>(xs);
    Acc ax = fabs(x);  // not x < 0 ? -x : x, which keeps -0 (pow(-0, -1) is -inf)
    switch (mode) {
      case 0: return a + (x != Acc(0) ? Acc(1) : Acc(0));
      case 1: return a + ax;
      case 2: return a + x * x;
      case 3: return minmax(a, ax, true);
      case 4: return minmax(a, ax, false);
      default: return a + pow(ax, p);
    }
  }
  __device__ Acc merge(Acc a, Acc b) const {
    if (mode == 3 || mode == 4) return minmax(a, b, mode == 3);
    return a + b;
  }
  __device__ void write(int64_t o, Acc a) const {
    Acc r = a;
    if (mode == 2) r = sqrt(a);
    else if (mode == 5) r = pow(a, Acc(1) / p);
    out[o] = cvt<T>(r);
  }
};

std::vector<bool> mask_of(const Tensor& in, const ops::Attrs& a) {
  return dims_mask(a.get<std::vector<int64_t>>("dims", {}), in.dim(), "reduction");
}

void check_out(const Tensor& out, DType want, const char* op) {
  DS_CHECK(out.is_contiguous(), "[", op, "] CUDA kernel expects a contiguous output");
  DS_CHECK(out.dtype() == want, "[", op, "] CUDA kernel: unexpected output dtype ", dtype_name(out.dtype()));
}

void sum_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a, bool mean) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  auto mask = mask_of(x, a);
  int64_t count = out[0].numel() == 0 ? 0 : x.numel() / out[0].numel();
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Out = std::conditional_t<is_float_v<T>, T, int64_t>;
    check_out(out[0], is_float_v<T> ? x.dtype() : DType::i64, mean ? "mean" : "sum");
    launch_reduce(x, mask, SumR<T, Out>{static_cast<Out*>(out[0].raw_data()), mean, count});
  };
  if (mean) visit_cuda_floating(x.dtype(), "mean", run);
  else visit_cuda_dtype(x.dtype(), run);
}

void prod_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  check_out(out[0], x.dtype(), "prod");
  auto mask = mask_of(x, a);
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_reduce(x, mask, ProdR<T>{static_cast<T*>(out[0].raw_data())});
  });
}

template <bool IsAll>
void any_all_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  check_out(out[0], DType::b8, IsAll ? "all" : "any");
  auto mask = mask_of(x, a);
  // Only "is nonzero" matters: integers are read as unsigned words of their size.
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_reduce(x, mask, AnyAllR<T, IsAll>{static_cast<bool*>(out[0].raw_data())});
  };
  switch (x.dtype()) {
    case DType::f32: return run(Tag<float>{});
    case DType::f64: return run(Tag<double>{});
    case DType::f16: return run(Tag<__half>{});
    case DType::bf16: return run(Tag<__nv_bfloat16>{});
    case DType::b8:
    case DType::i8:
    case DType::u8: return run(Tag<uint8_t>{});
    case DType::i16: return run(Tag<uint16_t>{});
    case DType::i32: return run(Tag<uint32_t>{});
    case DType::i64: return run(Tag<uint64_t>{});
    default: break;
  }
  DS_THROW("[", IsAll ? "all" : "any", "] dtype ", dtype_name(x.dtype()), " is not supported on CUDA");
}

void norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  check_out(out[0], x.dtype(), "norm");
  double p = a.get<double>("p");
  auto mask = dims_mask(a.get<std::vector<int64_t>>("dims", {}), x.dim(), "norm");
  int mode = p == 2 ? 2 : p == 1 ? 1 : std::isinf(p) ? (p > 0 ? 3 : 4) : p == 0 ? 0 : 5;
  visit_cuda_floating(x.dtype(), "norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath<T>;
    launch_reduce(x, mask, NormR<T>{static_cast<T*>(out[0].raw_data()), mode, static_cast<V>(p)});
  });
}

void register_reduce_kernels() {
  register_cuda_kernel("sum", [](auto& in, auto& out, auto& a) { sum_kernel(in, out, a, false); });
  register_cuda_kernel("mean", [](auto& in, auto& out, auto& a) { sum_kernel(in, out, a, true); });
  register_cuda_kernel("prod", prod_kernel);
  register_cuda_kernel("any", any_all_kernel<false>);
  register_cuda_kernel("all", any_all_kernel<true>);
  register_cuda_kernel("norm", norm_kernel);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_reduce_kernels);
