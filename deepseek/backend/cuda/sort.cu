// sort (stable, ascending or descending) and topk on CUDA: values plus i64 indices along one
// dim, any input strides. Elements are ordered by (value, index) — ascending puts NaN last,
// descending puts it first, as the CPU kernel — which is a strict total order, so any sorting
// network gives exactly the CPU's stable result. Rows up to 2048 values: one block per row,
// a bitonic sort in shared memory. Longer rows: tiles of 2048 are sorted that way, then runs
// are merged pairwise in passes (each element finds its place by a binary search in the
// other run). topk is the first k of the sort in the requested direction (ties by the lower
// index, as on the CPU).
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kSortTile = 2048;

template <typename T> using key_t = std::conditional_t<std::is_same_v<T, bool>, int, opmath<T>>;

template <typename V> __device__ __forceinline__ bool is_nan_key(V v) {
  if constexpr (std::is_floating_point_v<V>) return v != v;
  else return false;
}

// a comes before b (values only).
template <typename V> __device__ __forceinline__ bool before(V a, V b, bool desc) {
  if (desc) return is_nan_key(a) ? !is_nan_key(b) : (!is_nan_key(b) && a > b);
  return is_nan_key(b) ? !is_nan_key(a) : (!is_nan_key(a) && a < b);
}

// (a, ia) strictly before (b, ib).
template <typename V> __device__ __forceinline__ bool less_key(V a, int64_t ia, V b, int64_t ib, bool desc) {
  if (before(a, b, desc)) return true;
  if (before(b, a, desc)) return false;
  return ia < ib;
}

// Sorts keys/idx[0, n_pad) in shared memory; entries with idx >= n_valid are padding and go
// last. Called by every thread of the block.
template <typename V>
__device__ void block_bitonic_sort(V* keys, int* idx, int n_valid, int n_pad, bool desc) {
  auto lt = [&](int i, int j) {  // element at i strictly before element at j
    bool pi = idx[i] >= n_valid, pj = idx[j] >= n_valid;
    if (pi || pj) return !pi && pj ? true : (pi && !pj ? false : idx[i] < idx[j]);
    return less_key(keys[i], static_cast<int64_t>(idx[i]), keys[j], static_cast<int64_t>(idx[j]), desc);
  };
  for (int size = 2; size <= n_pad; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int t = threadIdx.x; t < (n_pad >> 1); t += blockDim.x) {
        int i = 2 * t - (t & (stride - 1));
        int j = i + stride;
        bool asc = (i & size) == 0;
        if (asc ? lt(j, i) : lt(i, j)) {
          V kv = keys[i];
          keys[i] = keys[j];
          keys[j] = kv;
          int iv = idx[i];
          idx[i] = idx[j];
          idx[j] = iv;
        }
      }
      __syncthreads();
    }
  }
}

struct RowGeom {
  DimIndexer kept;   // row -> input offset (elements)
  int64_t in_stride; // along the sorted dim
  int64_t n;         // row length
  int64_t rows;
  int64_t inner;     // output: row q starts at (q / inner) * k * inner + q % inner, stride inner
  int64_t k;
};

__device__ __forceinline__ int64_t out_base(const RowGeom& g, int64_t q) {
  return (q / g.inner) * g.k * g.inner + q % g.inner;
}

// Rows of at most kSortTile values: sort in shared memory, write the first k.
template <typename T>
__global__ void __launch_bounds__(1024) sort_rows_small_kernel(const T* __restrict__ x, T* __restrict__ vout, int64_t* __restrict__ iout,
                                       RowGeom g, int n_pad, bool desc) {
  using V = key_t<T>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  V* keys = reinterpret_cast<V*>(smem_raw);
  int* idx = reinterpret_cast<int*>(smem_raw + sizeof(V) * n_pad);
  const int n = static_cast<int>(g.n);
  for (int64_t q = blockIdx.x; q < g.rows; q += gridDim.x) {
    const T* p = x + g.kept.offset(q);
    for (int t = threadIdx.x; t < n_pad; t += blockDim.x) {
      keys[t] = t < n ? cvt<V>(p[t * g.in_stride]) : V(0);
      idx[t] = t;
    }
    __syncthreads();
    block_bitonic_sort(keys, idx, n, n_pad, desc);
    const int64_t ob = out_base(g, q);
    for (int t = threadIdx.x; t < g.k; t += blockDim.x) {
      vout[ob + t * g.inner] = cvt<T>(keys[t]);
      iout[ob + t * g.inner] = idx[t];
    }
    __syncthreads();
  }
}

// Long rows: sort each tile of kSortTile values into the row-contiguous buffers.
template <typename T>
__global__ void __launch_bounds__(1024) sort_tiles_kernel(const T* __restrict__ x, T* __restrict__ kbuf, int64_t* __restrict__ ibuf,
                                  RowGeom g, bool desc) {
  using V = key_t<T>;
  __shared__ V keys[kSortTile];
  __shared__ int idx[kSortTile];
  const int64_t tiles = (g.n + kSortTile - 1) / kSortTile;
  for (int64_t b = blockIdx.x; b < g.rows * tiles; b += gridDim.x) {
    const int64_t q = b / tiles, t0 = (b % tiles) * kSortTile;
    const int valid = static_cast<int>(g.n - t0 < kSortTile ? g.n - t0 : kSortTile);
    const T* p = x + g.kept.offset(q);
    for (int t = threadIdx.x; t < kSortTile; t += blockDim.x) {
      keys[t] = t < valid ? cvt<V>(p[(t0 + t) * g.in_stride]) : V(0);
      idx[t] = t;
    }
    __syncthreads();
    block_bitonic_sort(keys, idx, valid, kSortTile, desc);
    for (int t = threadIdx.x; t < valid; t += blockDim.x) {
      kbuf[q * g.n + t0 + t] = cvt<T>(keys[t]);
      ibuf[q * g.n + t0 + t] = t0 + idx[t];
    }
    __syncthreads();
  }
}

// One merge pass: sorted runs of width w (per row) are merged pairwise into dst.
template <typename T>
__global__ void merge_pass_kernel(const T* __restrict__ ks, const int64_t* __restrict__ is, T* __restrict__ kd,
                                  int64_t* __restrict__ id, int64_t rows, int64_t n, int64_t w, bool desc) {
  using V = key_t<T>;
  const int64_t total = rows * n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t q = e / n, p = e - q * n;
    const int64_t row0 = q * n;
    const int64_t run = p / w;
    const int64_t pair = (run & ~int64_t(1)) * w;
    const V kv = cvt<V>(ks[e]);
    const int64_t iv = is[e];
    int64_t lo, hi, dest;
    if ((run & 1) == 0) {
      lo = pair + w < n ? pair + w : n;
      hi = pair + 2 * w < n ? pair + 2 * w : n;
      dest = p;
    } else {
      lo = pair;
      hi = pair + w;
      dest = p - w;
    }
    // count of partner elements strictly before (kv, iv)
    int64_t a = lo, b = hi;
    while (a < b) {
      int64_t mid = a + ((b - a) >> 1);
      if (less_key(cvt<V>(ks[row0 + mid]), is[row0 + mid], kv, iv, desc)) a = mid + 1;
      else b = mid;
    }
    dest += a - lo;
    kd[row0 + dest] = ks[e];
    id[row0 + dest] = iv;
  }
}

template <typename T>
__global__ void write_first_k_kernel(const T* __restrict__ kb, const int64_t* __restrict__ ib, T* __restrict__ vout,
                                     int64_t* __restrict__ iout, RowGeom g) {
  const int64_t total = g.rows * g.k;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t q = e / g.k, t = e - q * g.k;
    const int64_t o = out_base(g, q) + t * g.inner;
    vout[o] = kb[q * g.n + t];
    iout[o] = ib[q * g.n + t];
  }
}

void sort_impl(const Tensor& x, Tensor& values, Tensor& indices, int64_t dim, int64_t k, bool desc, const char* op) {
  DeviceGuard guard(x.device().index);
  DS_CHECK(values.is_contiguous() && indices.is_contiguous(), "[", op, "] CUDA kernel expects contiguous outputs");
  if (values.numel() == 0) return;
  RowGeom g;
  std::vector<int64_t> ks, kst;
  int64_t inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == dim) continue;
    ks.push_back(x.sizes()[d]);
    kst.push_back(x.strides()[d]);
    if (d > dim) inner *= x.sizes()[d];
  }
  g.kept = make_dim_indexer(ks, kst);
  g.n = x.dim() == 0 ? 1 : x.sizes()[dim];
  g.in_stride = x.dim() == 0 ? 0 : x.strides()[dim];
  g.rows = g.n == 0 ? 0 : x.numel() / g.n;
  g.inner = inner;
  g.k = k;
  if (g.rows == 0 || g.n == 0 || k == 0) return;
  cudaStream_t stream = current_stream();
  visit_cuda_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = key_t<T>;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* vp = static_cast<T*>(values.raw_data());
    int64_t* ip = static_cast<int64_t*>(indices.raw_data());
    const unsigned grid_rows = static_cast<unsigned>(std::min<int64_t>(g.rows, 1 << 20));
    if (g.n <= kSortTile) {
      int n_pad = static_cast<int>(next_pow2(g.n));
      int threads = std::min(1024, std::max(32, n_pad / 2));
      size_t smem = static_cast<size_t>(n_pad) * (sizeof(V) + sizeof(int));
      sort_rows_small_kernel<T><<<grid_rows, threads, smem, stream>>>(xp, vp, ip, g, n_pad, desc);
      DS_CUDA_LAUNCH_CHECK();
      return;
    }
    const int64_t total = g.rows * g.n;
    Tensor kb0 = Tensor::empty({total}, x.dtype(), x.device()), kb1 = Tensor::empty({total}, x.dtype(), x.device());
    Tensor ib0 = Tensor::empty({total}, DType::i64, x.device()), ib1 = Tensor::empty({total}, DType::i64, x.device());
    T* ka = static_cast<T*>(kb0.raw_data());
    T* kbp = static_cast<T*>(kb1.raw_data());
    int64_t* ia = static_cast<int64_t*>(ib0.raw_data());
    int64_t* ibp = static_cast<int64_t*>(ib1.raw_data());
    const int64_t tiles = (g.n + kSortTile - 1) / kSortTile;
    sort_tiles_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(g.rows * tiles, 1 << 20)), 1024, 0, stream>>>(
        xp, ka, ia, g, desc);
    DS_CUDA_LAUNCH_CHECK();
    for (int64_t w = kSortTile; w < g.n; w *= 2) {
      merge_pass_kernel<T><<<blocks_for(total, 256), 256, 0, stream>>>(ka, ia, kbp, ibp, g.rows, g.n, w, desc);
      DS_CUDA_LAUNCH_CHECK();
      std::swap(ka, kbp);
      std::swap(ia, ibp);
    }
    write_first_k_kernel<T><<<blocks_for(g.rows * g.k, 256), 256, 0, stream>>>(ka, ia, vp, ip, g);
    DS_CUDA_LAUNCH_CHECK();
  });
}

void sort_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "sort");
  int64_t n = x.dim() == 0 ? 1 : x.sizes()[dim];
  sort_impl(x, out[0], out[1], dim, n, a.get<bool>("descending", false), "sort");
}

void topk_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "topk");
  sort_impl(x, out[0], out[1], dim, a.get<int64_t>("k"), a.get<bool>("largest", true), "topk");
}

void register_sort_kernels() {
  register_cuda_kernel("sort", sort_kernel);
  register_cuda_kernel("topk", topk_kernel);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_sort_kernels);
