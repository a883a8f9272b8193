// cumsum on CUDA, any input strides. Floating values accumulate in f64 (as the CPU kernel),
// integers and bool in i64 (output i64). Scans along the innermost dim of long rows run one
// block per row (tiles of 4 values per thread, a block scan of the thread totals, a carry
// between tiles); otherwise one thread per (outer, inner) column walks the dim (coalesced
// across inner). Deterministic: the summation order depends only on the shape.
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

template <typename T> using scan_acc_t = std::conditional_t<is_float_v<T>, double, int64_t>;
template <typename T> using scan_out_t = std::conditional_t<is_float_v<T>, T, int64_t>;

template <typename T>
__device__ __forceinline__ scan_acc_t<T> scan_load(T v) {
  using A = scan_acc_t<T>;
  if constexpr (is_float_v<T>) return static_cast<A>(cvt<opmath<T>>(v));
  else return static_cast<A>(v);
}

// Row q of the kept dims: input offset kept.offset(q); output row (q / inner, q % inner) of a
// contiguous [outer, n, inner] tensor.
template <typename T>
__global__ void cumsum_column_kernel(const T* __restrict__ x, scan_out_t<T>* __restrict__ y, DimIndexer kept,
                                     int64_t in_stride, int64_t rows, int64_t n, int64_t inner) {
  using A = scan_acc_t<T>;
  using O = scan_out_t<T>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < rows; q += stride) {
    const T* p = x + kept.offset(q);
    O* o = y + (q / inner) * n * inner + q % inner;
    A acc = 0;
    for (int64_t i = 0; i < n; ++i) {
      acc += scan_load(p[i * in_stride]);
      o[i * inner] = cvt<O>(acc);
    }
  }
}

constexpr int kScanThreads = 512;
constexpr int kScanItems = 4;

// One block per row of an innermost-dim scan (output rows contiguous, inner == 1).
template <typename T>
__global__ void __launch_bounds__(kScanThreads) cumsum_row_kernel(const T* __restrict__ x, scan_out_t<T>* __restrict__ y,
                                                                 DimIndexer kept, int64_t in_stride, int64_t rows,
                                                                 int64_t n) {
  using A = scan_acc_t<T>;
  using O = scan_out_t<T>;
  static_assert(sizeof(A) == 8, "scan accumulators are 8 bytes");
  __shared__ A warp_tot[kScanThreads / 32];
  __shared__ A tile_tot;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int tile = kScanThreads * kScanItems;
  for (int64_t q = blockIdx.x; q < rows; q += gridDim.x) {
    const T* p = x + kept.offset(q);
    O* o = y + q * n;
    A carry = 0;
    for (int64_t t0 = 0; t0 < n; t0 += tile) {
      const int64_t base = t0 + static_cast<int64_t>(threadIdx.x) * kScanItems;
      A v[kScanItems];
      A run = 0;
#pragma unroll
      for (int u = 0; u < kScanItems; ++u) {
        A xv = base + u < n ? scan_load(p[(base + u) * in_stride]) : A(0);
        run += xv;
        v[u] = run;  // inclusive within the thread
      }
      // inclusive scan of the thread totals within the warp
      A s = run;
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        A up = shfl_up_any(s, d);
        if (lane >= d) s += up;
      }
      if (lane == 31) warp_tot[warp] = s;
      __syncthreads();
      if (threadIdx.x == 0) {  // exclusive scan of the warp totals, in order
        A acc = 0;
        for (int i = 0; i < kScanThreads / 32; ++i) {
          A t = warp_tot[i];
          warp_tot[i] = acc;
          acc += t;
        }
        tile_tot = acc;
      }
      __syncthreads();
      const A before = carry + warp_tot[warp] + (s - run);  // everything before this thread
#pragma unroll
      for (int u = 0; u < kScanItems; ++u)
        if (base + u < n) o[base + u] = cvt<O>(before + v[u]);
      carry += tile_tot;
      __syncthreads();
    }
  }
}

void cumsum_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Tensor& y = out[0];
  DeviceGuard guard(x.device().index);
  DS_CHECK(y.is_contiguous(), "[cumsum] CUDA kernel expects a contiguous output");
  if (y.numel() == 0) return;
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "cumsum");
  int64_t n = x.dim() == 0 ? 1 : x.sizes()[d];
  int64_t in_stride = x.dim() == 0 ? 0 : x.strides()[d];
  int64_t inner = 1;
  std::vector<int64_t> ks, kst;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i == d) continue;
    ks.push_back(x.sizes()[i]);
    kst.push_back(x.strides()[i]);
    if (i > d) inner *= x.sizes()[i];
  }
  DimIndexer kept = make_dim_indexer(ks, kst);
  int64_t rows = x.numel() / n;
  cudaStream_t stream = current_stream();
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using O = scan_out_t<T>;
    DS_CHECK(y.dtype() == (is_float_v<T> ? x.dtype() : DType::i64), "[cumsum] CUDA kernel: unexpected output dtype");
    const T* xp = static_cast<const T*>(x.raw_data());
    O* yp = static_cast<O*>(y.raw_data());
    if (inner == 1 && n >= 256) {
      cumsum_row_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20)), kScanThreads, 0, stream>>>(
          xp, yp, kept, in_stride, rows, n);
    } else {
      cumsum_column_kernel<T><<<blocks_for(rows, 256), 256, 0, stream>>>(xp, yp, kept, in_stride, rows, n, inner);
    }
    DS_CUDA_LAUNCH_CHECK();
  });
}

void register_cumsum_kernels() { register_cuda_kernel("cumsum", cumsum_kernel); }

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_cumsum_kernels);
