// embedding and embedding_backward on CUDA, and sorted_segment_apply: the deterministic scatter
// engine of index_common.cuh (scatter, scatter_add, index_add and index_put use it too).
// Items are stably radix-sorted by destination, then the first thread of each destination walks
// its items in their original order: no atomics, results identical run to run and equal to the
// CPU kernels' (same order, same rounding). Opmath sums (embedding_backward) split destinations
// with more than kPiece items into pieces summed in parallel first (BERT's token types send
// all 16k positions to one row: walked by one thread per column, that took 8 ms), so long
// segments add in a fixed but different order than the CPU's; shorter ones are unchanged.
#include <cub/device/device_radix_sort.cuh>

#include "deepseek/backend/cuda/index_common.cuh"

namespace deepseek::cuda {
namespace {

__global__ void keys_from_index_kernel(const void* idx, bool i64, int64_t n, int64_t wrap, int64_t kmul, int64_t vmul,
                                       int64_t* __restrict__ keys, int64_t* __restrict__ vals) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t v = load_index(idx, i64, i);
    if (v < 0) v += wrap;
    keys[i] = v * kmul;
    vals[i] = i * vmul;
  }
}

template <typename T>
__device__ __forceinline__ T add_rounded(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a || b;
  else return cvt<T>(cvt<opmath<T>>(a) + cvt<opmath<T>>(b));
}

// Opmath sums: the sum of piece k (items [k kPiece, (k + 1) kPiece) that continue the destination
// of item k kPiece - 1) for each (outer o, inner j), where a piece starts inside a destination.
constexpr int64_t kPiece = 128;

template <typename T>
__global__ void piece_sums_kernel(opmath<T>* __restrict__ partials, const T* __restrict__ src,
                                  const int64_t* __restrict__ keys, const int64_t* __restrict__ vals, int64_t n,
                                  SegmentSpec s, int64_t total) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t j = t % s.inner, rest = t / s.inner;
    int64_t o = rest % s.outer, k = rest / s.outer;
    int64_t p = k * kPiece;
    if (p == 0 || p >= n || keys[p - 1] != keys[p]) continue;
    int64_t key = keys[p];
    const T* sp = src + o * s.src_outer + j * s.src_inner;
    opmath<T> acc = 0;
    for (int64_t q = p; q < n && q < p + kPiece && keys[q] == key; ++q) acc += cvt<opmath<T>>(sp[vals[q]]);
    partials[t] = acc;
  }
}

// One thread per (item p, outer o, inner j); only the first item of each destination works.
template <typename T>
__global__ void segment_kernel(T* __restrict__ dst, const T* __restrict__ src, const int64_t* __restrict__ keys,
                               const int64_t* __restrict__ vals, int64_t n, SegmentSpec s, int64_t total,
                               const opmath<T>* __restrict__ partials) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t j = t % s.inner, rest = t / s.inner;
    int64_t o = rest % s.outer, p = rest / s.outer;
    int64_t key = keys[p];
    if ((p > 0 && keys[p - 1] == key) || key == s.skip_key) continue;
    T* d = dst + key + o * s.dst_outer + j * s.dst_inner;
    const T* sp = src + o * s.src_outer + j * s.src_inner;
    if (s.mode == SegmentMode::last) {
      int64_t q = p;
      while (q + 1 < n && keys[q + 1] == key) ++q;
      *d = sp[vals[q]];
    } else if (s.mode == SegmentMode::sum_opmath && partials) {
      if constexpr (std::is_floating_point_v<opmath<T>>) {
        // Items up to the next piece boundary, then the pieces' partial sums, in order.
        opmath<T> acc = cvt<opmath<T>>(*d);
        int64_t q = p;
        for (; q < n && keys[q] == key && (q == p || q % kPiece != 0); ++q) acc += cvt<opmath<T>>(sp[vals[q]]);
        for (; q < n && keys[q] == key; q += kPiece) acc += partials[((q / kPiece) * s.outer + o) * s.inner + j];
        *d = cvt<T>(acc);
      }
    } else if (s.mode == SegmentMode::sum_rounded) {
      T acc = *d;
      for (int64_t q = p; q < n && keys[q] == key; ++q) acc = add_rounded(acc, sp[vals[q]]);
      *d = acc;
    } else {
      if constexpr (std::is_same_v<T, bool>) {
        bool acc = *d;
        for (int64_t q = p; q < n && keys[q] == key; ++q) acc = acc || sp[vals[q]];
        *d = acc;
      } else {
        opmath<T> acc = cvt<opmath<T>>(*d);
        for (int64_t q = p; q < n && keys[q] == key; ++q) acc += cvt<opmath<T>>(sp[vals[q]]);
        *d = cvt<T>(acc);
      }
    }
  }
}

}  // namespace

void keys_from_index(const Tensor& index, int64_t wrap, int64_t kmul, int64_t vmul, Tensor& keys, Tensor& vals) {
  DS_CHECK(index.is_contiguous(), "keys_from_index: expects a contiguous index");
  int64_t n = index.numel();
  keys = empty_cuda({n}, DType::i64, index.device());
  vals = empty_cuda({n}, DType::i64, index.device());
  if (n == 0) return;
  DeviceGuard g(index.device().index);
  keys_from_index_kernel<<<blocks_for(n, kThreads), kThreads, 0, current_stream(index.device().index)>>>(
      index.raw_data(), index.dtype() == DType::i64, n, wrap, kmul, vmul, static_cast<int64_t*>(keys.raw_data()),
      static_cast<int64_t*>(vals.raw_data()));
  DS_CUDA_LAUNCH_CHECK();
}

void sorted_segment_apply(const Tensor& dst, const Tensor& src, Tensor keys, Tensor vals, const SegmentSpec& spec) {
  int64_t n = keys.numel();
  int64_t total = n * spec.outer * spec.inner;
  if (total == 0) return;
  DS_CHECK(dst.dtype() == src.dtype(), "sorted_segment_apply: dtype mismatch");
  Device dev = dst.device();
  DeviceGuard g(dev.index);
  cudaStream_t stream = current_stream(dev.index);
  if (n > 1) {
    int end_bit = 1;
    while (end_bit < 63 && (int64_t{1} << end_bit) < spec.key_bound) ++end_bit;
    Tensor keys2 = empty_cuda({n}, DType::i64, dev), vals2 = empty_cuda({n}, DType::i64, dev);
    // Keys are non-negative, so sorting them as unsigned gives their order.
    auto* k_in = static_cast<const uint64_t*>(keys.raw_data());
    auto* k_out = static_cast<uint64_t*>(keys2.raw_data());
    auto* v_in = static_cast<const int64_t*>(vals.raw_data());
    auto* v_out = static_cast<int64_t*>(vals2.raw_data());
    size_t bytes = 0;
    DS_CUDA_CHECK(::cub::DeviceRadixSort::SortPairs(nullptr, bytes, k_in, k_out, v_in, v_out, n, 0, end_bit, stream));
    Tensor temp = empty_cuda({static_cast<int64_t>(bytes > 0 ? bytes : 1)}, DType::u8, dev);
    DS_CUDA_CHECK(
        ::cub::DeviceRadixSort::SortPairs(temp.raw_data(), bytes, k_in, k_out, v_in, v_out, n, 0, end_bit, stream));
    keys = keys2;
    vals = vals2;
  }
  visit_cuda_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* k = static_cast<const int64_t*>(keys.raw_data());
    auto* v = static_cast<const int64_t*>(vals.raw_data());
    const opmath<T>* partials = nullptr;
    Tensor piece_buf;
    if constexpr (std::is_floating_point_v<opmath<T>>) {  // embedding_backward's dtypes
      const int64_t pieces = (n + kPiece - 1) / kPiece;
      if (spec.mode == SegmentMode::sum_opmath && pieces > 1) {  // at most 1/kPiece of the items' size
        const int64_t ptotal = pieces * spec.outer * spec.inner;
        piece_buf = empty_cuda({ptotal}, std::is_same_v<opmath<T>, double> ? DType::f64 : DType::f32, dev);
        piece_sums_kernel<T><<<blocks_for(ptotal, kThreads), kThreads, 0, stream>>>(
            static_cast<opmath<T>*>(piece_buf.raw_data()), static_cast<const T*>(src.raw_data()), k, v, n, spec,
            ptotal);
        DS_CUDA_LAUNCH_CHECK();
        partials = static_cast<const opmath<T>*>(piece_buf.raw_data());
      }
    }
    segment_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(
        static_cast<T*>(dst.raw_data()), static_cast<const T*>(src.raw_data()), k, v, n, spec, total, partials);
  });
  DS_CUDA_LAUNCH_CHECK();
}

namespace {

std::function<std::string(int64_t)> range_message(const char* op, int64_t rows) {
  std::string o = op;
  return [o, rows](int64_t v) {
    return detail::str_cat("[", o, "] index ", v, " is out of range for ", rows, " embeddings");
  };
}

// The op definition makes weight and indices contiguous.
void embedding_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor &w = in[0], &idx = in[1];
  int64_t rows = w.sizes()[0], d = w.sizes()[1], n = idx.numel();
  check_index_range(idx, 0, rows, range_message("embedding", rows));
  std::vector<DimMap> maps(2);
  maps[0].size = n;
  maps[0].stride = w.strides()[0];
  maps[0].n = rows;
  maps[0].kind = kMapTable;
  maps[0].table_i64 = idx.dtype() == DType::i64;
  maps[0].table_stride = 1;
  maps[1].size = maps[1].n = d;
  maps[1].stride = w.strides()[1];
  Tensor idx_c = contiguous_cuda(idx);
  maps[0].table = idx_c.raw_data();
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(w, y, maps); });
}

// Row r of the result sums the gradient rows whose index is r (except padding_idx), in index
// order, accumulated in opmath (f32 for f16/bf16) and rounded once, as the CPU kernel does.
void embedding_backward_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& grad = in[0];
  Tensor idx = contiguous_cuda(in[1]);
  const Tensor& y = out[0];
  int64_t rows = y.sizes()[0], d = y.sizes()[1], n = idx.numel();
  auto pad = a.optional_int("padding_idx");
  if (!a.get<int64_t>("indices_checked", 0)) check_index_range(idx, 0, rows, range_message("embedding_backward", rows));
  DS_CHECK(y.is_contiguous(), "[embedding_backward] expects a fresh output");
  if (y.numel() == 0) return;
  DeviceGuard g(y.device().index);
  DS_CUDA_CHECK(cudaMemsetAsync(y.raw_data(), 0, y.nbytes(), current_stream(y.device().index)));
  if (n == 0) return;
  Tensor g_c = contiguous_cuda(grad);
  Tensor keys, vals;
  keys_from_index(idx, 0, d, d, keys, vals);
  SegmentSpec spec;
  spec.inner = d;
  spec.key_bound = rows * d;
  spec.skip_key = pad ? *pad * d : -1;
  spec.mode = SegmentMode::sum_opmath;
  sorted_segment_apply(y, g_c, keys, vals, spec);
}

void register_embedding_kernels() {
  register_cuda_kernel("embedding", embedding_op);
  register_cuda_kernel("embedding_backward", embedding_backward_op);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_embedding_kernels);
