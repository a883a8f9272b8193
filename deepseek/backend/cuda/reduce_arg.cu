// Extremum reductions on CUDA: amax, amin (any dims), max_dim / min_dim (values and i64
// indices along one dim), argmax / argmin (one dim or the flattened tensor). Same generic
// kernel as reduce.cu. Semantics follow the CPU kernels: NaN propagates (and wins arg
// reductions, at its first position); among equal extremes the first index wins. The index
// merge is order-independent (value first, then the lower index), so every split gives the
// CPU's answer.
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

// Compute type of compared values: f32 for f16/bf16, int for bool.
template <typename T> using cmp_t = std::conditional_t<std::is_same_v<T, bool>, int, opmath<T>>;

template <typename V> __device__ __forceinline__ bool isnan_v(V v) {
  if constexpr (std::is_floating_point_v<V>) return v != v;
  else return false;
}

template <typename T> __device__ __forceinline__ cmp_t<T> lowest_v() {
  using V = cmp_t<T>;
  if constexpr (std::is_floating_point_v<V>) return -::cuda::std::numeric_limits<V>::infinity();
  else return ::cuda::std::numeric_limits<V>::lowest();
}
template <typename T> __device__ __forceinline__ cmp_t<T> highest_v() {
  using V = cmp_t<T>;
  if constexpr (std::is_floating_point_v<V>) return ::cuda::std::numeric_limits<V>::infinity();
  else return ::cuda::std::numeric_limits<V>::max();
}

// amax / amin: NaN propagates.
template <typename T, bool IsMax>
struct ExtremeR {
  using In = T;
  using Acc = cmp_t<T>;
  T* out;
  __device__ Acc init() const { return IsMax ? lowest_v<T>() : highest_v<T>(); }
  __device__ Acc merge(Acc a, Acc x) const {
    if (isnan_v(a)) return a;
    if (isnan_v(x)) return x;
    return IsMax ? (x > a ? x : a) : (x < a ? x : a);
  }
  __device__ Acc step(Acc a, T x, int64_t) const { return merge(a, cvt<Acc>(x)); }
  __device__ void write(int64_t o, Acc a) const { out[o] = cvt<T>(a); }
};

template <typename V>
struct ArgAcc {  // i < 0: nothing seen yet
  V v;
  int64_t i;
};

template <typename T, bool IsMax>
struct ArgR {
  using In = T;
  using V = cmp_t<T>;
  using Acc = ArgAcc<V>;
  T* values;  // null for argmax / argmin
  int64_t* indices;
  __device__ Acc init() const { return Acc{V(0), -1}; }
  __device__ Acc merge(Acc a, Acc b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    bool an = isnan_v(a.v), bn = isnan_v(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (IsMax ? a.v > b.v : a.v < b.v) return a;
    if (IsMax ? b.v > a.v : b.v < a.v) return b;
    return a.i < b.i ? a : b;
  }
  __device__ Acc step(Acc a, T x, int64_t r) const { return merge(a, Acc{cvt<V>(x), r}); }
  __device__ void write(int64_t o, Acc a) const {
    if (values) values[o] = cvt<T>(a.v);
    indices[o] = a.i;
  }
};

void check_out(const Tensor& out, DType want, const char* op) {
  DS_CHECK(out.is_contiguous(), "[", op, "] CUDA kernel expects a contiguous output");
  DS_CHECK(out.dtype() == want, "[", op, "] CUDA kernel: unexpected output dtype ", dtype_name(out.dtype()));
}

template <bool IsMax>
void extreme_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  check_out(out[0], x.dtype(), IsMax ? "amax" : "amin");
  auto mask = dims_mask(a.get<std::vector<int64_t>>("dims", {}), x.dim(), IsMax ? "amax" : "amin");
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_reduce(x, mask, ExtremeR<T, IsMax>{static_cast<T*>(out[0].raw_data())});
  });
}

// Values (optional) and first index of the extreme along `dim`, or over all elements in
// row-major order when dim is absent.
template <bool IsMax>
void arg_kernel(const Tensor& x, Tensor* values, Tensor& indices, std::optional<int64_t> dim) {
  DeviceGuard g(x.device().index);
  const char* op = IsMax ? "argmax" : "argmin";
  check_out(indices, DType::i64, op);
  if (values) check_out(*values, x.dtype(), op);
  std::vector<bool> mask(x.dim(), !dim.has_value());
  if (dim && x.dim() > 0) mask[wrap_dim(*dim, x.dim(), op)] = true;
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* vp = values ? static_cast<T*>(values->raw_data()) : nullptr;
    launch_reduce(x, mask, ArgR<T, IsMax>{vp, static_cast<int64_t*>(indices.raw_data())});
  });
}

void register_reduce_arg_kernels() {
  register_cuda_kernel("amax", extreme_kernel<true>);
  register_cuda_kernel("amin", extreme_kernel<false>);
  register_cuda_kernel("max_dim", [](auto& in, auto& out, auto& a) {
    arg_kernel<true>(in[0], &out[0], out[1], a.template get<int64_t>("dim"));
  });
  register_cuda_kernel("min_dim", [](auto& in, auto& out, auto& a) {
    arg_kernel<false>(in[0], &out[0], out[1], a.template get<int64_t>("dim"));
  });
  register_cuda_kernel("argmax", [](auto& in, auto& out, auto& a) {
    arg_kernel<true>(in[0], nullptr, out[0], a.optional_int("dim"));
  });
  register_cuda_kernel("argmin", [](auto& in, auto& out, auto& a) {
    arg_kernel<false>(in[0], nullptr, out[0], a.optional_int("dim"));
  });
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_reduce_arg_kernels);
