// Elementwise launches over any strides and broadcasting, the CUDA counterpart of
// backend/cpu/loops.h. Three paths:
//  - operands laid out alike as dense arrays, row-major or not (inputs may also be single
//    elements, e.g. a wrapped scalar): each thread handles 4 elements with 16-byte-aligned
//    vector loads when the pointers allow;
//  - anything else (misaligned contiguous operands too): dims are sorted into the output's
//    memory order, size-1 dims dropped and dims contiguous for every operand merged; long
//    innermost dims are then walked kVec elements per thread (vector loads where every row is
//    dense and aligned), short ones element by element, offsets from the linear index.
// f(in...) -> Out runs in device code; functors are usually __device__ lambdas.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <cuda/std/tuple>

#include "deepseek/backend/cuda/device/types.cuh"
#include "deepseek/backend/cuda/runtime.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cuda {

constexpr int kMaxDims = 12;
constexpr int kThreads = 256;
constexpr int kVec = 4;

// n / d for 0 <= n < 2^31 by a multiply-high and a shift (Granlund–Montgomery, as
// PyTorch's IntDivider): the strided path divides every linear index once per dim, and a
// 64-bit division costs dozens of instructions.
struct FastDivider {
  uint32_t divisor = 1, magic = 1, shift = 0;
  FastDivider() = default;
  explicit FastDivider(uint32_t d) : divisor(d) {
    shift = 0;
    while (shift < 32 && (uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, magic) + n) >> shift; }
};

// Launches of the strided path keep numel below 2^31 (larger ones are split), so linear
// indices are 32-bit; byte offsets stay 64-bit.
template <int N>  // N operands, output first
struct StridedIndexer {
  int ndim = 0;
  FastDivider sizes[kMaxDims];       // innermost last
  int64_t strides[kMaxDims][N];      // bytes
  __device__ __forceinline__ void offsets(uint32_t linear, int64_t* off) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      uint32_t q = sizes[d].div(linear);
      uint32_t i = linear - q * sizes[d].divisor;
      linear = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(i) * strides[d][k];
    }
  }
};

template <int N>
StridedIndexer<N> make_indexer(const std::array<const Tensor*, N>& ops, const Shape& shape) {
  int64_t nd = static_cast<int64_t>(shape.size());
  std::vector<std::array<int64_t, N>> st(nd);
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *ops[k];
    int64_t es = static_cast<int64_t>(t.element_size());
    int64_t lead = nd - t.dim();
    for (int64_t d = 0; d < nd; ++d) {
      int64_t td = d - lead;
      st[d][k] = (td < 0 || t.sizes()[td] == 1) ? 0 : t.strides()[td] * es;
    }
  }
  std::vector<int64_t> order(nd);
  for (int64_t i = 0; i < nd; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::abs(st[a][0]) > std::abs(st[b][0]);
  });
  StridedIndexer<N> ix;
  int64_t sizes[kMaxDims];
  for (int64_t i : order) {
    if (shape[i] == 1) continue;
    if (ix.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (ix.strides[ix.ndim - 1][k] != st[i][k] * shape[i]) merge = false;
      if (merge) {
        sizes[ix.ndim - 1] *= shape[i];
        for (int k = 0; k < N; ++k) ix.strides[ix.ndim - 1][k] = st[i][k];
        continue;
      }
    }
    DS_CHECK(ix.ndim < kMaxDims, "CUDA elementwise: more than ", kMaxDims, " non-mergeable dims");
    sizes[ix.ndim] = shape[i];
    for (int k = 0; k < N; ++k) ix.strides[ix.ndim][k] = st[i][k];
    ++ix.ndim;
  }
  for (int d = 0; d < ix.ndim; ++d) ix.sizes[d] = FastDivider(static_cast<uint32_t>(sizes[d]));
  return ix;
}

template <int V, typename T>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <int M>
struct InputPtrs {
  const char* p[M > 0 ? M : 1];
};

// Wraps the functor f with typed reads of each input. (CUDA forbids parameter packs on
// kernels beside others and device lambdas inside generic lambdas, so the kernels below take
// this one type and the functors are plain structs; see functors.cuh.)
template <typename F, typename Out, typename... In>
struct Apply {
  static constexpr int M = sizeof...(In);
  F f;

  template <size_t... I>
  __device__ __forceinline__ Out at(const InputPtrs<M>& in, int64_t i, uint32_t scalar_mask,
                                    std::index_sequence<I...>) const {
    return f(reinterpret_cast<const In*>(in.p[I])[((scalar_mask >> I) & 1u) ? 0 : i]...);
  }
  __device__ __forceinline__ Out at(const InputPtrs<M>& in, int64_t i, uint32_t scalar_mask) const {
    return at(in, i, scalar_mask, std::make_index_sequence<M>{});
  }

  template <size_t... I>
  __device__ __forceinline__ Out at_offsets(const InputPtrs<M>& in, const int64_t* off,
                                            std::index_sequence<I...>) const {
    return f(*reinterpret_cast<const In*>(in.p[I] + off[I + 1])...);
  }

  // kVec outputs from aligned vector loads (scalar inputs are broadcast).
  template <size_t... I>
  __device__ __forceinline__ void vec(Out* out, const InputPtrs<M>& in, int64_t base,
                                      uint32_t scalar_mask, std::index_sequence<I...>) const {
    ::cuda::std::tuple<Pack<kVec, In>...> packs;
    ((((scalar_mask >> I) & 1u)
          ? void(fill_pack(::cuda::std::get<I>(packs), *reinterpret_cast<const In*>(in.p[I])))
          : void(::cuda::std::get<I>(packs) =
                     *reinterpret_cast<const Pack<kVec, In>*>(reinterpret_cast<const In*>(in.p[I]) + base))),
     ...);
    Pack<kVec, Out> o;
#pragma unroll
    for (int j = 0; j < kVec; ++j) o.v[j] = f(::cuda::std::get<I>(packs).v[j]...);
    *reinterpret_cast<Pack<kVec, Out>*>(out + base) = o;
  }
  // kVec outputs at byte offsets off (output first); input I's elements are kVec apart by
  // nothing (bcast_mask bit set: one element broadcast) or dense (vector loads).
  template <size_t... I>
  __device__ __forceinline__ void vec_at_offsets(char* out, const InputPtrs<M>& in, const int64_t* off,
                                                 uint32_t bcast_mask, std::index_sequence<I...>) const {
    ::cuda::std::tuple<Pack<kVec, In>...> packs;
    ((((bcast_mask >> I) & 1u)
          ? void(fill_pack(::cuda::std::get<I>(packs), *reinterpret_cast<const In*>(in.p[I] + off[I + 1])))
          : void(::cuda::std::get<I>(packs) = *reinterpret_cast<const Pack<kVec, In>*>(in.p[I] + off[I + 1]))),
     ...);
    Pack<kVec, Out> o;
#pragma unroll
    for (int j = 0; j < kVec; ++j) o.v[j] = f(::cuda::std::get<I>(packs).v[j]...);
    *reinterpret_cast<Pack<kVec, Out>*>(out + off[0]) = o;
  }
  template <typename T>
  __device__ __forceinline__ static void fill_pack(Pack<kVec, T>& p, T v) {
#pragma unroll
    for (int j = 0; j < kVec; ++j) p.v[j] = v;
  }
};

template <typename A, typename Out>
__global__ void ew_vector_kernel(int64_t n, uint32_t scalar_mask, A a, Out* __restrict__ out,
                                 InputPtrs<A::M> in) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x * kVec;
  for (int64_t base = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * kVec;
       base < n; base += stride) {
    if (base + kVec <= n) {
      a.vec(out, in, base, scalar_mask, std::make_index_sequence<A::M>{});
    } else {
      for (int64_t i = base; i < n; ++i) out[i] = a.at(in, i, scalar_mask);
    }
  }
}

// Each thread computes kStridedUnroll elements (a block's worth apart) before storing any,
// so that many loads are in flight per thread: one at a time left strided copies
// latency-bound at a third of the bandwidth.
constexpr int kStridedUnroll = 4;

template <typename A, typename Out>
__global__ void ew_strided_kernel(uint32_t n, StridedIndexer<1 + A::M> ix, A a, char* out,
                                  InputPtrs<A::M> in) {
  const uint32_t step = gridDim.x * blockDim.x * kStridedUnroll;
  for (uint32_t base = blockIdx.x * blockDim.x * kStridedUnroll + threadIdx.x; base < n; base += step) {
    Out v[kStridedUnroll];
    int64_t dst[kStridedUnroll];
#pragma unroll
    for (int u = 0; u < kStridedUnroll; ++u) {
      uint32_t i = base + u * blockDim.x;
      if (i < n) {
        int64_t off[1 + A::M];
        ix.offsets(i, off);
        dst[u] = off[0];
        v[u] = a.at_offsets(in, off, std::make_index_sequence<A::M>{});
      }
    }
#pragma unroll
    for (int u = 0; u < kStridedUnroll; ++u)
      if (base + u * blockDim.x < n) *reinterpret_cast<Out*>(out + dst[u]) = v[u];
  }
}

// The strided path for long rows: the innermost merged dim (length `inner`, byte strides
// `step`) is walked kVec elements per thread, so the offsets cost one index decomposition per
// kVec elements rather than per element, and when every operand's rows are dense and aligned
// (Vector) the loads and stores are vectors. Transposes, the unbind / cat / narrow copies and
// padded rows take this path.
template <int N>
struct RowGeometry {
  StridedIndexer<N> rows;  // the outer dims
  FastDivider vecs;        // kVec-element pieces per row
  uint32_t inner = 0;
  int64_t step[N];  // bytes between consecutive elements of a row, per operand
};

template <typename A, typename Out, bool Vector>
__global__ void ew_rows_kernel(uint32_t pieces, RowGeometry<1 + A::M> g, A a, char* out, InputPtrs<A::M> in,
                               uint32_t bcast_mask) {
  constexpr int N = 1 + A::M;
  const uint32_t stride = gridDim.x * blockDim.x;
  for (uint32_t u = blockIdx.x * blockDim.x + threadIdx.x; u < pieces; u += stride) {
    uint32_t row = g.vecs.div(u);
    uint32_t first = (u - row * g.vecs.divisor) * kVec;
    int64_t off[N];
    g.rows.offsets(row, off);
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(first) * g.step[k];
    if (Vector && first + kVec <= g.inner) {
      a.vec_at_offsets(out, in, off, bcast_mask, std::make_index_sequence<A::M>{});
      continue;
    }
    const uint32_t count = min(static_cast<uint32_t>(kVec), g.inner - first);
    Out v[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      if (j < count) {
        int64_t o[N];
#pragma unroll
        for (int k = 0; k < N; ++k) o[k] = off[k] + j * g.step[k];
        v[j] = a.at_offsets(in, o, std::make_index_sequence<A::M>{});
      }
    }
#pragma unroll
    for (int j = 0; j < kVec; ++j)
      if (j < count) *reinterpret_cast<Out*>(out + off[0] + j * g.step[0]) = v[j];
  }
}

// Launches ew_rows_kernel when the innermost merged dim is long enough to pay; false if not.
template <typename A, typename Out, int N>
bool launch_rows(const StridedIndexer<N>& ix, const std::array<const Tensor*, N>& ops, int64_t n, A a, char* out,
                 const InputPtrs<A::M>& in, cudaStream_t stream) {
  constexpr int kMinInner = 4 * kVec;
  if (ix.ndim == 0) return false;
  const int last = ix.ndim - 1;
  const uint32_t inner = ix.sizes[last].divisor;
  if (inner < kMinInner) return false;
  RowGeometry<N> g;
  g.inner = inner;
  g.rows.ndim = last;
  for (int d = 0; d < last; ++d) {
    g.rows.sizes[d] = ix.sizes[d];
    for (int k = 0; k < N; ++k) g.rows.strides[d][k] = ix.strides[d][k];
  }
  const uint32_t per_row = (inner + kVec - 1) / kVec;
  g.vecs = FastDivider(per_row);
  const int64_t rows = n / inner;
  if (rows * per_row >= (int64_t{1} << 31)) return false;
  // Vector loads: each operand dense along the row (or broadcast along it, inputs only), and
  // every row start aligned to kVec elements.
  bool vector = true;
  uint32_t bcast_mask = 0;
  for (int k = 0; k < N; ++k) {
    const int64_t es = static_cast<int64_t>(ops[k]->element_size()), align = es * kVec;
    g.step[k] = ix.strides[last][k];
    if (k > 0 && g.step[k] == 0) {  // one element per row: no alignment needed
      bcast_mask |= 1u << (k - 1);
      continue;
    }
    if (g.step[k] != es || reinterpret_cast<uintptr_t>(ops[k]->raw_data()) % align != 0) vector = false;
    for (int d = 0; d < last; ++d)
      if (g.rows.strides[d][k] % align != 0) vector = false;
  }
  const uint32_t pieces = static_cast<uint32_t>(rows * per_row);
  if (vector)
    ew_rows_kernel<A, Out, true><<<blocks_for(pieces, kThreads), kThreads, 0, stream>>>(pieces, g, a, out, in, bcast_mask);
  else
    ew_rows_kernel<A, Out, false><<<blocks_for(pieces, kThreads), kThreads, 0, stream>>>(pieces, g, a, out, in, bcast_mask);
  return true;
}

// A view of t narrowed along dim d (no dispatcher: kernels must not record ops).
inline Tensor narrow_view(const Tensor& t, int64_t d, int64_t start, int64_t len) {
  Shape s = t.sizes();
  s[d] = len;
  return Tensor::make(t.storage(), s, t.strides(), t.offset() + start * t.strides()[d], t.dtype());
}

// out = f(ins...) elementwise; each input broadcasts to out's shape. Element types are the
// operands' device types (see types.cuh); the caller has checked dtypes. f is a functor
// struct with a __device__ call operator.
template <typename Out, typename... In, typename F>
void elementwise(const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& ins, F f) {
  constexpr int M = sizeof...(In);
  using A = Apply<F, Out, In...>;
  int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t stream = current_stream(out.device().index);
  InputPtrs<M> ptrs{};
  for (int k = 0; k < M; ++k) ptrs.p[k] = static_cast<const char*>(ins[k]->raw_data());
  // Fast path: output dense (row-major, or any order of its dims such as channels_last), each
  // input a single element or laid out exactly as the output: all are flat arrays.
  const bool out_contiguous = out.is_contiguous();
  bool fast = out_contiguous || out.is_non_overlapping_and_dense();
  uint32_t scalar_mask = 0;
  bool aligned = reinterpret_cast<uintptr_t>(out.raw_data()) % (sizeof(Out) * kVec) == 0;
  for (int k = 0; k < M && fast; ++k) {
    const Tensor& t = *ins[k];
    if (t.numel() == 1) {
      scalar_mask |= 1u << k;
    } else if (t.sizes() == out.sizes() &&
               (out_contiguous ? t.is_contiguous() : t.strides() == out.strides())) {
      aligned = aligned && reinterpret_cast<uintptr_t>(t.raw_data()) % (t.element_size() * kVec) == 0;
    } else {
      fast = false;
    }
  }
  Out* o = static_cast<Out*>(out.raw_data());
  if (fast && aligned) {
    ew_vector_kernel<A, Out><<<blocks_for((n + kVec - 1) / kVec, kThreads), kThreads, 0, stream>>>(
        n, scalar_mask, A{f}, o, ptrs);
  } else if (n >= (int64_t{1} << 31)) {
    // Halve the outermost dim of size > 1 (inputs broadcast along it keep their view).
    int64_t d = 0;
    while (out.sizes()[d] == 1) ++d;
    int64_t half = out.sizes()[d] / 2;
    for (auto [start, len] : {std::pair<int64_t, int64_t>{0, half}, {half, out.sizes()[d] - half}}) {
      std::vector<Tensor> parts;
      std::array<const Tensor*, M> part_ptrs;
      parts.reserve(M);
      for (int k = 0; k < M; ++k) {
        const Tensor& t = *ins[k];
        int64_t td = d - (out.dim() - t.dim());
        parts.push_back(td >= 0 && t.sizes()[td] != 1 ? narrow_view(t, td, start, len) : t);
        part_ptrs[k] = &parts.back();
      }
      elementwise<Out, In...>(narrow_view(out, d, start, len), part_ptrs, f);
    }
    return;
  } else {
    std::array<const Tensor*, M + 1> all;
    all[0] = &out;
    for (int k = 0; k < M; ++k) all[k + 1] = ins[k];
    auto ix = make_indexer<M + 1>(all, out.sizes());
    if (launch_rows<A, Out, M + 1>(ix, all, n, A{f}, static_cast<char*>(out.raw_data()), ptrs, stream)) {
      DS_CUDA_LAUNCH_CHECK();
      return;
    }
    ew_strided_kernel<A, Out><<<blocks_for((n + kStridedUnroll - 1) / kStridedUnroll, kThreads), kThreads, 0, stream>>>(
        static_cast<uint32_t>(n), ix, A{f}, static_cast<char*>(out.raw_data()), ptrs);
  }
  DS_CUDA_LAUNCH_CHECK();
}

// Registers a CUDA kernel for an op.
void register_cuda_kernel(const char* op, ops::KernelFn fn);

}  // namespace deepseek::cuda
