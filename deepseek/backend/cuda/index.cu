// Indexing kernels on CUDA: gather, scatter, scatter_add, index_select, index_add, masked_fill,
// masked_select, nonzero, index, index_put and one_hot, plus the host helpers of
// index_common.cuh (byte copies, device-side index range checks). Every index is range-checked
// on the device before the first write (one host sync); the scatters go through
// sorted_segment_apply, so duplicates resolve as on the CPU and sums are deterministic.
#include <cub/device/device_scan.cuh>

#include <cstring>
#include <limits>

#include "deepseek/backend/cuda/device/functors.cuh"
#include "deepseek/backend/cuda/index_common.cuh"

namespace deepseek::cuda {

// --- host helpers ------------------------------------------------------------------------------

Strided make_strided(const Tensor& t, const Shape& shape) {
  int64_t nd = static_cast<int64_t>(shape.size()), lead = nd - t.dim();
  DS_CHECK(lead >= 0, "CUDA strided walk: tensor of shape ", to_string(t.sizes()), " does not broadcast to ",
           to_string(shape));
  Strided s;
  for (int64_t d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    int64_t td = d - lead;
    int64_t st = (td < 0 || t.sizes()[td] == 1) ? 0 : t.strides()[td];
    if (s.nd > 0 && s.stride[s.nd - 1] == st * shape[d]) {
      s.size[s.nd - 1] *= shape[d];
      s.stride[s.nd - 1] = st;
      continue;
    }
    DS_CHECK(s.nd < kMaxMapDims, "CUDA indexing: more than ", kMaxMapDims, " dims that cannot be merged");
    s.size[s.nd] = shape[d];
    s.stride[s.nd] = st;
    ++s.nd;
  }
  return s;
}
Strided make_strided(const Tensor& t) { return make_strided(t, t.sizes()); }

uint64_t scalar_bits(const Scalar& v, DType t) {
  uint64_t bits = 0;
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T x = v.to<T>();
    std::memcpy(&bits, &x, sizeof(T));
  });
  return bits;
}

void copy_bytes(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  DeviceGuard g(dst.device().index);
  visit_width(dst.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    elementwise<U, U>(dst, {&src}, fn::Identity<U>{});
  });
}

Tensor empty_cuda(const Shape& s, DType t, Device d) { return Tensor::empty(s, t, d); }

Tensor contiguous_cuda(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = empty_cuda(t.sizes(), t.dtype(), t.device());
  copy_bytes(c, t);
  return c;
}

std::function<std::string(int64_t)> bounds_message(const char* op, int64_t n, bool dim_of_size) {
  std::string o = op;
  return [o, n, dim_of_size](int64_t v) {
    return detail::str_cat("[", o, "] index ", v, " is out of bounds for ", dim_of_size ? "dim of size " : "size ", n);
  };
}

namespace {

__global__ void range_kernel(const void* idx, bool i64, Strided s, int64_t n, int64_t lo, int64_t hi, bool has_skip,
                             int64_t skip, unsigned long long* first_bad) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t v = load_index(idx, i64, s.offset(i));
    if ((v < lo || v >= hi) && !(has_skip && v == skip)) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

}  // namespace

PendingRangeChecks::PendingRangeChecks(std::vector<RangeCheck> checks) {
  for (auto& c : checks) {
    const Tensor& t = c.index;
    DS_CHECK(t.dtype() == DType::i64 || t.dtype() == DType::i32, "index must be an integer tensor (i64 or i32), got ",
             dtype_name(t.dtype()));
    if (t.numel() > 0) checks_.push_back(std::move(c));
  }
  if (checks_.empty()) return;
  Device dev = checks_[0].index.device();
  DeviceGuard g(dev.index);
  cudaStream_t stream = current_stream(dev.index);
  const int64_t k = static_cast<int64_t>(checks_.size());
  Tensor first = empty_cuda({k}, DType::i64, dev);
  auto* fp = static_cast<unsigned long long*>(first.raw_data());
  DS_CUDA_CHECK(cudaMemsetAsync(fp, 0xFF, k * sizeof(unsigned long long), stream));
  for (int64_t c = 0; c < k; ++c) {
    const RangeCheck& rc = checks_[c];
    int64_t n = rc.index.numel();
    range_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
        rc.index.raw_data(), rc.index.dtype() == DType::i64, make_strided(rc.index), n, rc.lo, rc.hi,
        rc.skip.has_value(), rc.skip.value_or(0), fp + c);
    DS_CUDA_LAUNCH_CHECK();
  }
  first_bad_host_ = cuda::pin_memory(Tensor::empty({k}, DType::i64));
  DS_CUDA_CHECK(cudaMemcpyAsync(first_bad_host_.raw_data(), fp, k * sizeof(unsigned long long),
                                cudaMemcpyDeviceToHost, stream));
  DS_CUDA_CHECK(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming));
  DS_CUDA_CHECK(cudaEventRecord(copied_, stream));
}

PendingRangeChecks::~PendingRangeChecks() {
  if (copied_) (void)cudaEventSynchronize(copied_);  // the copy must land before the buffer is reused
  if (copied_) (void)cudaEventDestroy(copied_);
}

void PendingRangeChecks::finish() {
  if (checks_.empty()) return;
  DS_CUDA_CHECK(cudaEventSynchronize(copied_));
  const auto* host = static_cast<const unsigned long long*>(first_bad_host_.raw_data());
  for (size_t c = 0; c < checks_.size(); ++c) {
    if (host[c] == std::numeric_limits<unsigned long long>::max()) continue;
    const RangeCheck& rc = checks_[c];
    const Tensor& t = rc.index;
    DeviceGuard g(t.device().index);
    // Element offset of the bad position (row-major over the index's shape).
    int64_t rest = static_cast<int64_t>(host[c]), off = 0;
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      off += (rest % t.sizes()[d]) * t.strides()[d];
      rest /= t.sizes()[d];
    }
    int64_t v = 0;  // the bad value itself (an error path: a synchronous read)
    if (t.dtype() == DType::i64) {
      DS_CUDA_CHECK(cudaMemcpy(&v, static_cast<const int64_t*>(t.raw_data()) + off, sizeof(int64_t),
                               cudaMemcpyDeviceToHost));
    } else {
      int32_t v32 = 0;
      DS_CUDA_CHECK(cudaMemcpy(&v32, static_cast<const int32_t*>(t.raw_data()) + off, sizeof(int32_t),
                               cudaMemcpyDeviceToHost));
      v = v32;
    }
    DS_THROW(rc.message(v));
  }
}

void check_index_ranges(const std::vector<RangeCheck>& checks) { PendingRangeChecks(checks).finish(); }

namespace {

// --- gather / scatter along a dim ------------------------------------------------------------

// Walks the index tensor in row-major order: coordinates, the index value (wrapped), and the
// offsets it maps to. `dst` strides address the tensor whose dim `dim` is replaced by the
// index value; `other` strides address the tensor read or written at the index's own position.
struct DimIndexParams {
  int nd = 0;
  int dim = 0;
  bool i64 = true;
  int64_t dim_size = 1;
  int64_t size[kMaxMapDims];
  int64_t istride[kMaxMapDims];
  int64_t dstride[kMaxMapDims];  // 0 for dim (replaced by the value)
  int64_t ostride[kMaxMapDims];
  int64_t dim_stride = 0;
  __device__ __forceinline__ void offsets(const void* idx, int64_t e, int64_t& doff, int64_t& ooff) const {
    int64_t rest = e, ioff = 0;
    doff = 0;
    ooff = 0;
    for (int d = nd - 1; d >= 0; --d) {
      int64_t c = rest % size[d];
      rest /= size[d];
      ioff += c * istride[d];
      doff += c * dstride[d];
      ooff += c * ostride[d];
    }
    int64_t v = load_index(idx, i64, ioff);
    if (v < 0) v += dim_size;
    doff += v * dim_stride;
  }
};

DimIndexParams dim_index_params(const Tensor& index, const Tensor& indexed, int64_t dim, int64_t dim_size,
                                const Tensor* other, const char* op) {
  DS_CHECK(index.dim() <= kMaxMapDims, "[", op, "] CUDA supports at most ", kMaxMapDims, " dims");
  DimIndexParams p;
  p.nd = static_cast<int>(index.dim());
  p.dim = static_cast<int>(dim);
  p.i64 = index.dtype() == DType::i64;
  p.dim_size = dim_size;
  for (int64_t d = 0; d < index.dim(); ++d) {
    p.size[d] = index.sizes()[d];
    p.istride[d] = index.strides()[d];
    p.dstride[d] = (indexed.dim() == 0 || d == dim) ? 0 : indexed.strides()[d];
    p.ostride[d] = other ? other->strides()[d] : 0;
  }
  p.dim_stride = indexed.dim() == 0 ? 0 : indexed.strides()[dim];
  return p;
}

template <typename U>
__global__ void gather_kernel(const void* idx, const U* __restrict__ x, U* __restrict__ out, int64_t n,
                              DimIndexParams p) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    int64_t xoff, unused;
    p.offsets(idx, e, xoff, unused);
    out[e] = x[xoff];
  }
}

__global__ void scatter_keys_kernel(const void* idx, int64_t n, DimIndexParams p, int64_t* keys, int64_t* vals) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step)
    p.offsets(idx, e, keys[e], vals[e]);
}

void gather_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "gather");
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[dim];
  check_index_range(index, -size, size, bounds_message("gather", size, false));
  int64_t n = index.numel();
  if (n == 0) return;
  DimIndexParams p = dim_index_params(index, x, dim, size, nullptr, "gather");
  DeviceGuard g(x.device().index);
  into_contiguous(out[0], [&](const Tensor& y) {
    visit_width(x.element_size(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      gather_kernel<U><<<blocks_for(n, kThreads), kThreads, 0, current_stream(x.device().index)>>>(
          index.raw_data(), static_cast<const U*>(x.raw_data()), static_cast<U*>(y.raw_data()), n, p);
    });
    DS_CUDA_LAUNCH_CHECK();
  });
}

template <bool Add>
void scatter_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const char* op = Add ? "scatter_add" : "scatter";
  const Tensor &x = in[0], &index = in[1], &src = in[2];
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), op);
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[dim];
  if (!a.get<int64_t>("indices_checked", 0)) check_index_range(index, -size, size, bounds_message(op, size, false));
  DeviceGuard g(x.device().index);
  into_contiguous(out[0], [&](const Tensor& y) {
    if (!y.is_same(x)) copy_bytes(y, x);
    int64_t n = index.numel();
    if (n == 0 || y.numel() == 0) return;
    DimIndexParams p = dim_index_params(index, y, dim, size, &src, op);
    Tensor keys = empty_cuda({n}, DType::i64, y.device()), vals = empty_cuda({n}, DType::i64, y.device());
    scatter_keys_kernel<<<blocks_for(n, kThreads), kThreads, 0, current_stream(y.device().index)>>>(
        index.raw_data(), n, p, static_cast<int64_t*>(keys.raw_data()), static_cast<int64_t*>(vals.raw_data()));
    DS_CUDA_LAUNCH_CHECK();
    SegmentSpec spec;
    spec.key_bound = y.numel();
    spec.mode = Add ? SegmentMode::sum_rounded : SegmentMode::last;
    sorted_segment_apply(y, src, keys, vals, spec);
  });
}

// --- index_select / index_add ------------------------------------------------------------------

void index_select_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  if (x.dim() == 0) {
    check_index_range(index, -1, 1, bounds_message("index_select", 1));
    into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, {}); });
    return;
  }
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), x.dim(), "index_select");
  int64_t size = x.sizes()[dim];
  check_index_range(index, -size, size, bounds_message("index_select", size));
  std::vector<DimMap> maps(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    maps[d].size = maps[d].n = x.sizes()[d];
    maps[d].stride = x.strides()[d];
  }
  maps[dim].size = index.numel();
  maps[dim].kind = kMapTable;
  maps[dim].table = index.raw_data();
  maps[dim].table_i64 = index.dtype() == DType::i64;
  maps[dim].table_stride = index.dim() == 1 ? index.strides()[0] : 0;
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, maps); });
}

void index_add_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "index_add");
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[d];
  check_index_range(index, -size, size, bounds_message("index_add", size));
  int64_t outer = 1, inner = 1, n = index.numel();
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k < d) outer *= x.sizes()[k];
    if (k > d) inner *= x.sizes()[k];
  }
  DeviceGuard g(x.device().index);
  into_contiguous(out[0], [&](const Tensor& y) {
    if (!y.is_same(x)) copy_bytes(y, x);
    if (y.numel() == 0 || n == 0) return;
    Tensor src = contiguous_cuda(in[2]);  // [outer, n, inner] in memory
    Tensor keys, vals;
    keys_from_index(contiguous_cuda(index), size, inner, inner, keys, vals);
    SegmentSpec spec;
    spec.outer = outer;
    spec.inner = inner;
    spec.dst_outer = size * inner;
    spec.src_outer = n * inner;
    spec.key_bound = size * inner;
    spec.mode = SegmentMode::sum_rounded;
    sorted_segment_apply(y, src, keys, vals, spec);
  });
}

// --- masked_fill / masked_select / nonzero ---------------------------------------------------

template <typename U>
struct MaskedFillFn {
  U value;
  __device__ __forceinline__ U operator()(U x, bool m) const { return m ? value : x; }
};

void masked_fill_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  uint64_t bits = scalar_bits(a.scalar("value"), in[0].dtype());
  DeviceGuard g(in[0].device().index);
  visit_width(in[0].element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U value;
    std::memcpy(&value, &bits, sizeof(U));
    elementwise<U, U, bool>(out[0], {&in[0], &in[1]}, MaskedFillFn<U>{value});
  });
}

template <typename T>
__global__ void nonzero_flags_kernel(const T* __restrict__ x, Strided s, int64_t n, int64_t* __restrict__ flags) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    flags[i] = cvt<opmath<T>>(x[s.offset(i)]) != opmath<T>(0) ? 1 : 0;
}

// scan = exclusive prefix sum of flags (n >= 1), on the current stream.
void exclusive_sum(const Tensor& flags, const Tensor& scan, int64_t n, cudaStream_t stream) {
  const int64_t* in = static_cast<const int64_t*>(flags.raw_data());
  int64_t* outp = static_cast<int64_t*>(scan.raw_data());
  size_t bytes = 0;
  DS_CUDA_CHECK(::cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, outp, n, stream));
  Tensor temp = empty_cuda({static_cast<int64_t>(bytes > 0 ? bytes : 1)}, DType::u8, flags.device());
  DS_CUDA_CHECK(::cub::DeviceScan::ExclusiveSum(temp.raw_data(), bytes, in, outp, n, stream));
}

template <typename U>
__global__ void masked_select_write_kernel(const U* __restrict__ x, Strided xs, const int64_t* __restrict__ flags,
                                           const int64_t* __restrict__ scan, int64_t n, U* __restrict__ out,
                                           int64_t count) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (!flags[i]) continue;
    int64_t k = scan[i];
    if (k < count) out[k] = x[xs.offset(i)];
  }
}

void masked_select_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor &x = in[0], &mask = in[1];
  Shape b = broadcast_shapes(x.sizes(), mask.sizes(), "masked_select");
  int64_t n = numel(b), count = out[0].numel();
  if (n == 0 || count == 0) return;
  DS_CHECK(out[0].is_contiguous(), "[masked_select] expects a fresh output");
  Device dev = x.device();
  DeviceGuard g(dev.index);
  cudaStream_t stream = current_stream(dev.index);
  Tensor flags = empty_cuda({n}, DType::i64, dev), scan = empty_cuda({n}, DType::i64, dev);
  nonzero_flags_kernel<bool><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      static_cast<const bool*>(mask.raw_data()), make_strided(mask, b), n, static_cast<int64_t*>(flags.raw_data()));
  DS_CUDA_LAUNCH_CHECK();
  exclusive_sum(flags, scan, n, stream);
  Strided xs = make_strided(x, b);
  visit_width(x.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    masked_select_write_kernel<U><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const U*>(x.raw_data()), xs, static_cast<const int64_t*>(flags.raw_data()),
        static_cast<const int64_t*>(scan.raw_data()), n, static_cast<U*>(out[0].raw_data()), count);
  });
  DS_CUDA_LAUNCH_CHECK();
}

struct Sizes {
  int nd = 0;
  int64_t size[kMaxMapDims];
};

__global__ void nonzero_write_kernel(const int64_t* __restrict__ flags, const int64_t* __restrict__ scan, int64_t n,
                                     Sizes s, int64_t* __restrict__ out, int64_t count) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (!flags[i]) continue;
    int64_t k = scan[i];
    if (k >= count) continue;
    int64_t rest = i;
    for (int d = s.nd - 1; d >= 0; --d) {
      out[k * s.nd + d] = rest % s.size[d];
      rest /= s.size[d];
    }
  }
}

void nonzero_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  int64_t n = x.numel(), count = out[0].sizes()[0];
  if (n == 0 || out[0].numel() == 0) return;
  DS_CHECK(x.dim() <= kMaxMapDims, "[nonzero] CUDA supports at most ", kMaxMapDims, " dims");
  DS_CHECK(out[0].is_contiguous(), "[nonzero] expects a fresh output");
  Device dev = x.device();
  DeviceGuard g(dev.index);
  cudaStream_t stream = current_stream(dev.index);
  Tensor flags = empty_cuda({n}, DType::i64, dev), scan = empty_cuda({n}, DType::i64, dev);
  Strided xs = make_strided(x);
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    nonzero_flags_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(x.raw_data()), xs, n, static_cast<int64_t*>(flags.raw_data()));
  });
  DS_CUDA_LAUNCH_CHECK();
  exclusive_sum(flags, scan, n, stream);
  Sizes s;
  s.nd = static_cast<int>(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) s.size[d] = x.sizes()[d];
  nonzero_write_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      static_cast<const int64_t*>(flags.raw_data()), static_cast<const int64_t*>(scan.raw_data()), n, s,
      static_cast<int64_t*>(out[0].raw_data()), count);
  DS_CUDA_LAUNCH_CHECK();
}

// --- index / index_put -------------------------------------------------------------------------

// offs[p] (+)= wrap(index[p broadcast]) * stride for every position p of the broadcast shape.
__global__ void index_offsets_kernel(const void* idx, bool i64, Strided s, int64_t n, int64_t size,
                                     int64_t stride, bool first, int64_t* __restrict__ offs) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < n; p += step) {
    int64_t v = load_index(idx, i64, s.offset(p));
    if (v < 0) v += size;
    offs[p] = (first ? 0 : offs[p]) + v * stride;
  }
}

// Range-checks the index tensors in[first..] against x's leading dims and returns the flat
// element offsets (with strides `st`) of every position of their broadcast shape `b`.
Tensor index_offsets(const std::vector<Tensor>& in, size_t first, const Tensor& x, const Strides& st, Shape& b,
                     const char* op, bool check = true) {
  std::vector<RangeCheck> checks;
  b = in[first].sizes();
  for (size_t i = first; i < in.size(); ++i) {
    int64_t k = static_cast<int64_t>(i - first);
    if (i > first) b = broadcast_shapes(b, in[i].sizes(), op);
    checks.push_back({in[i], -x.sizes()[k], x.sizes()[k], bounds_message(op, x.sizes()[k])});
  }
  if (check) check_index_ranges(checks);
  int64_t n = numel(b);
  Tensor offs = empty_cuda({n}, DType::i64, x.device());
  if (n == 0) return offs;
  cudaStream_t stream = current_stream(x.device().index);
  for (size_t i = first; i < in.size(); ++i) {
    int64_t k = static_cast<int64_t>(i - first);
    index_offsets_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
        in[i].raw_data(), in[i].dtype() == DType::i64, make_strided(in[i], b), n, x.sizes()[k], st[k], i == first,
        static_cast<int64_t*>(offs.raw_data()));
    DS_CUDA_LAUNCH_CHECK();
  }
  return offs;
}

void index_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  Shape b;
  Tensor offs = index_offsets(in, 1, x, x.strides(), b, "index");
  int64_t k = static_cast<int64_t>(in.size()) - 1;
  std::vector<DimMap> maps(1);
  maps[0].size = numel(b);
  maps[0].stride = 1;
  maps[0].n = 0;
  maps[0].kind = kMapTable;
  maps[0].table = offs.raw_data();
  maps[0].table_i64 = true;
  maps[0].table_stride = 1;
  for (int64_t d = k; d < x.dim(); ++d) {
    DimMap m;
    m.size = m.n = x.sizes()[d];
    m.stride = x.strides()[d];
    maps.push_back(m);
  }
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, maps); });
}

__global__ void iota_kernel(int64_t* out, int64_t n, int64_t mul) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) out[i] = i * mul;
}

void index_put_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  bool acc = a.get<bool>("accumulate", false);
  DeviceGuard g(x.device().index);
  // Range checks come first (before the copy), as on the CPU.
  {
    std::vector<RangeCheck> checks;
    for (size_t i = 2; i < in.size(); ++i) {
      int64_t k = static_cast<int64_t>(i - 2);
      checks.push_back({in[i], -x.sizes()[k], x.sizes()[k], bounds_message("index_put", x.sizes()[k])});
    }
    check_index_ranges(checks);
  }
  into_contiguous(out[0], [&](const Tensor& y) {
    if (!y.is_same(x)) copy_bytes(y, x);
    Shape b;
    Tensor offs = index_offsets(in, 2, x, y.strides(), b, "index_put", false);
    int64_t k = static_cast<int64_t>(in.size()) - 2, inner = 1;
    Shape full = b;
    for (int64_t d = k; d < x.dim(); ++d) {
      inner *= x.sizes()[d];
      full.push_back(x.sizes()[d]);
    }
    int64_t nb = numel(b);
    if (nb == 0 || inner == 0) return;
    Tensor values = empty_cuda(full, x.dtype(), x.device());
    copy_bytes(values, in[1]);  // broadcast to the indexed shape
    Tensor vals = empty_cuda({nb}, DType::i64, x.device());
    iota_kernel<<<blocks_for(nb, kThreads), kThreads, 0, current_stream(x.device().index)>>>(
        static_cast<int64_t*>(vals.raw_data()), nb, inner);
    DS_CUDA_LAUNCH_CHECK();
    SegmentSpec spec;
    spec.inner = inner;
    spec.key_bound = y.numel();
    spec.mode = acc ? SegmentMode::sum_rounded : SegmentMode::last;
    sorted_segment_apply(y, values, offs, vals, spec);
  });
}

// --- one_hot -----------------------------------------------------------------------------------

__global__ void one_hot_kernel(const void* labels, bool i64, Strided s, int64_t n, int64_t c, int64_t* __restrict__ out) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i * c + load_index(labels, i64, s.offset(i))] = 1;
}

void one_hot_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& labels = in[0];
  int64_t c = out[0].sizes().back(), n = labels.numel();
  check_index_range(labels, 0, c, [c](int64_t v) {
    return detail::str_cat("[one_hot] class value ", v, " is out of range for ", c, " classes");
  });
  if (out[0].numel() == 0) return;
  DS_CHECK(out[0].is_contiguous(), "[one_hot] expects a fresh output");
  DeviceGuard g(labels.device().index);
  cudaStream_t stream = current_stream(labels.device().index);
  DS_CUDA_CHECK(cudaMemsetAsync(out[0].raw_data(), 0, out[0].nbytes(), stream));
  one_hot_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      labels.raw_data(), labels.dtype() == DType::i64, make_strided(labels), n, c,
      static_cast<int64_t*>(out[0].raw_data()));
  DS_CUDA_LAUNCH_CHECK();
}

void register_index_kernels() {
  register_cuda_kernel("gather", gather_op);
  register_cuda_kernel("scatter", scatter_op<false>);
  register_cuda_kernel("scatter_add", scatter_op<true>);
  register_cuda_kernel("index_select", index_select_op);
  register_cuda_kernel("index_add", index_add_op);
  register_cuda_kernel("masked_fill", masked_fill_op);
  register_cuda_kernel("masked_select", masked_select_op);
  register_cuda_kernel("nonzero", nonzero_op);
  register_cuda_kernel("index", index_op);
  register_cuda_kernel("index_put", index_put_op);
  register_cuda_kernel("one_hot", one_hot_op);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_index_kernels);
