// Reductions on CUDA: warp / block reductions (shuffles, fixed order, so results are
// deterministic) and a generic launcher for reducing any set of dims of a strided tensor.
//
// A reduction is a Reducer struct (see reduce.cu): In (element type read), Acc (accumulator,
// trivially copyable), init(), step(acc, x, r) with r the row-major index of x among the
// reduced elements, merge(a, b) (associative; every merge order gives the same kind of
// result) and write(o, acc) that stores output o (the reducer holds the output pointers).
//
// The input's kept dims (one output each, row-major = the output's order) and reduced dims
// are each coalesced into an indexer, so any strides work without a copy. Two layouts:
//  - row: the reduced elements are the contiguous ones; threads along x share one output
//    (shuffles, then shared memory across warps), y picks outputs;
//  - column: consecutive outputs are contiguous; x picks outputs (coalesced), threads along y
//    share one output (shared-memory tree).
// When outputs are few and rows long, the reduced range is split over blockIdx.y; each split
// writes its partial accumulator and a second kernel merges the splits in order.
#pragma once

#include <cuda/std/limits>

#include <cstring>
#include <vector>

#include "deepseek/backend/cuda/device/types.cuh"
#include "deepseek/backend/cuda/runtime.h"

namespace deepseek::cuda {

constexpr int kRedMaxDims = 12;

// Linear index -> element offset over up to kRedMaxDims dims (outermost first).
struct DimIndexer {
  int nd = 0;
  int64_t sizes[kRedMaxDims];
  int64_t strides[kRedMaxDims];
  __host__ __device__ __forceinline__ int64_t offset(int64_t linear) const {
    if (nd == 1) return linear * strides[0];
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      int64_t s = sizes[d];
      off += (linear % s) * strides[d];
      linear /= s;
    }
    return off;
  }
};

// Builds an indexer over dims (outermost first), dropping size-1 dims and merging dims that
// are contiguous with each other (the row-major linear index is preserved).
inline DimIndexer make_dim_indexer(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  DimIndexer ix;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 1) continue;
    if (ix.nd > 0 && ix.strides[ix.nd - 1] == strides[i] * sizes[i]) {
      ix.sizes[ix.nd - 1] *= sizes[i];
      ix.strides[ix.nd - 1] = strides[i];
      continue;
    }
    DS_CHECK(ix.nd < kRedMaxDims, "CUDA reduction: more than ", kRedMaxDims, " non-mergeable dims");
    ix.sizes[ix.nd] = sizes[i];
    ix.strides[ix.nd] = strides[i];
    ++ix.nd;
  }
  return ix;
}

inline int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Streaming multiprocessors of the current device (cached).
inline int sm_count() {
  static int cached[64] = {};
  int dev = current_device();
  if (dev < 0 || dev >= 64) return 132;
  if (cached[dev] == 0) {
    int v = 0;
    DS_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    cached[dev] = v > 0 ? v : 1;
  }
  return cached[dev];
}

// --- shuffles of any trivially copyable value ---------------------------------------------------
// Moves v word by word through shfl(word) (a full-warp __shfl_*_sync).
template <typename T, typename Shfl>
__device__ __forceinline__ T shfl_words(T v, Shfl shfl) {
  constexpr int W = (sizeof(T) + 3) / 4;
  unsigned w[W];
#pragma unroll
  for (int i = 0; i < W; ++i) w[i] = 0;
  memcpy(w, &v, sizeof(T));
#pragma unroll
  for (int i = 0; i < W; ++i) w[i] = shfl(w[i]);
  T r;
  memcpy(&r, w, sizeof(T));
  return r;
}
struct ShflDown {
  unsigned delta;
  int width;
  __device__ __forceinline__ unsigned operator()(unsigned w) const {
    return __shfl_down_sync(0xffffffffu, w, delta, width);
  }
};
struct ShflUp {
  unsigned delta;
  __device__ __forceinline__ unsigned operator()(unsigned w) const { return __shfl_up_sync(0xffffffffu, w, delta); }
};
struct ShflXor {
  int mask;
  __device__ __forceinline__ unsigned operator()(unsigned w) const { return __shfl_xor_sync(0xffffffffu, w, mask); }
};
template <typename T>
__device__ __forceinline__ T shfl_down_any(T v, unsigned delta, int width = 32) {
  return shfl_words(v, ShflDown{delta, width});
}
template <typename T>
__device__ __forceinline__ T shfl_up_any(T v, unsigned delta) {
  return shfl_words(v, ShflUp{delta});
}
template <typename T>
__device__ __forceinline__ T shfl_xor_any(T v, int mask) {
  return shfl_words(v, ShflXor{mask});
}

// --- combine functors -----------------------------------------------------------------------------
struct SumOp {
  template <typename V> __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
// Max that skips NaN (b wins only when greater), as the softmax rows' max.
struct MaxSkipNanOp {
  template <typename V> __device__ __forceinline__ V operator()(V a, V b) const { return b > a ? b : a; }
};

// All 32 lanes of the warp get op over the warp's values (butterfly: every lane computes the
// same combinations, commutative ops give bit-identical results on every lane).
template <typename V, typename Op>
__device__ __forceinline__ V warp_allreduce(V v, Op op) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor_any(v, m));
  return v;
}

// Every thread of a 1-D block (blockDim.x a multiple of 32, at most 1024) gets op over the
// block's values. smem: 32 values of V. Contains __syncthreads: call from all threads.
template <typename V, typename Op>
__device__ __forceinline__ V block_allreduce(V v, Op op, V* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nwarps = (blockDim.x + 31) >> 5;
  v = warp_allreduce(v, op);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {  // fold the warps' values in a fixed order
    V r = smem[0];
    for (int i = 1; i < nwarps; ++i) r = op(r, smem[i]);
    smem[0] = r;
  }
  __syncthreads();
  V r = smem[0];
  __syncthreads();  // smem may be reused right after
  return r;
}

// --- the generic reduction -------------------------------------------------------------------------
constexpr int kRedThreads = 256;

template <typename R>
__global__ void __launch_bounds__(kRedThreads)
reduce_kernel(const typename R::In* __restrict__ in, R r, DimIndexer kept, DimIndexer red,
              int64_t n_out, int64_t n_red, int64_t chunk, bool row, typename R::Acc* ws) {
  using Acc = typename R::Acc;
  __shared__ Acc smem[kRedThreads];
  const int bx = blockDim.x, by = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < n_red ? r0 + chunk : n_red;
  const int64_t per_block = row ? by : bx;
  const int64_t nb = (n_out + per_block - 1) / per_block;
  const int coop = row ? bx : by, ci = row ? tx : ty;
  for (int64_t b = blockIdx.x; b < nb; b += gridDim.x) {  // uniform over the block
    const int64_t o = b * per_block + (row ? ty : tx);
    Acc acc = r.init();
    if (o < n_out) {
      const typename R::In* p = in + kept.offset(o);
      if (red.nd == 2) {
        // two reduced dims (e.g. N and H*W of an NCHW sum over all but C): step (i, j) by
        // divmod(coop, size) instead of dividing per element
        const int64_t s1 = red.sizes[1], st0 = red.strides[0], st1 = red.strides[1];
        int64_t k = r0 + ci;
        int64_t i = k / s1, j = k - (k / s1) * s1;
        const int64_t di = coop / s1, dj = coop - di * s1;
        for (; k < r1; k += coop) {
          acc = r.step(acc, p[i * st0 + j * st1], k);
          i += di;
          j += dj;
          if (j >= s1) {
            j -= s1;
            ++i;
          }
        }
      } else if (red.nd == 1) {
        // one reduced dim: four independent accumulators keep four loads in flight per
        // thread (a column sum with one per thread was latency-bound at a tenth of bandwidth)
        const int64_t st = red.strides[0];
        Acc a1 = r.init(), a2 = r.init(), a3 = r.init();
        int64_t k = r0 + ci;
        for (; k + 3 * coop < r1; k += 4 * coop) {
          acc = r.step(acc, p[k * st], k);
          a1 = r.step(a1, p[(k + coop) * st], k + coop);
          a2 = r.step(a2, p[(k + 2 * coop) * st], k + 2 * coop);
          a3 = r.step(a3, p[(k + 3 * coop) * st], k + 3 * coop);
        }
        for (; k < r1; k += coop) acc = r.step(acc, p[k * st], k);
        acc = r.merge(r.merge(acc, a1), r.merge(a2, a3));
      } else {
        for (int64_t k = r0 + ci; k < r1; k += coop) acc = r.step(acc, p[red.offset(k)], k);
      }
    }
    bool leader;
    if (row) {
      const int w = bx < 32 ? bx : 32;  // lanes of one output within a warp
      for (int off = w >> 1; off > 0; off >>= 1) acc = r.merge(acc, shfl_down_any(acc, off, w));
      if (bx > 32) {
        const int nw = bx >> 5;  // warps per output
        if ((tx & 31) == 0) smem[ty * nw + (tx >> 5)] = acc;
        __syncthreads();
        if (tx < 32) {  // the whole first warp of this output's threads
          acc = tx < nw ? smem[ty * nw + tx] : r.init();
          for (int off = nw >> 1; off > 0; off >>= 1) acc = r.merge(acc, shfl_down_any(acc, off, 32));
        }
        __syncthreads();
      }
      leader = tx == 0;
    } else {
      smem[ty * bx + tx] = acc;
      __syncthreads();
      for (int s = by >> 1; s > 0; s >>= 1) {
        if (ty < s) smem[ty * bx + tx] = r.merge(smem[ty * bx + tx], smem[(ty + s) * bx + tx]);
        __syncthreads();
      }
      acc = smem[tx];
      __syncthreads();
      leader = ty == 0;
    }
    if (leader && o < n_out) {
      if (ws) ws[static_cast<int64_t>(blockIdx.y) * n_out + o] = acc;
      else r.write(o, acc);
    }
  }
}

template <typename R>
__global__ void reduce_merge_splits_kernel(R r, const typename R::Acc* __restrict__ ws, int64_t n_out, int splits) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += stride) {
    typename R::Acc a = ws[o];
    for (int s = 1; s < splits; ++s) a = r.merge(a, ws[static_cast<int64_t>(s) * n_out + o]);
    r.write(o, a);
  }
}

// Reduces `in` over the dims where mask is true; outputs (row-major over the kept dims) are
// written by r.write. Runs on the current device and stream.
template <typename R>
void launch_reduce(const Tensor& in, const std::vector<bool>& mask, const R& r) {
  using Acc = typename R::Acc;
  std::vector<int64_t> ks, kst, rs, rst;
  for (int64_t i = 0; i < in.dim(); ++i) {
    (mask[i] ? rs : ks).push_back(in.sizes()[i]);
    (mask[i] ? rst : kst).push_back(in.strides()[i]);
  }
  int64_t n_out = 1, n_red = 1;
  for (auto s : ks) n_out *= s;
  for (auto s : rs) n_red *= s;
  if (n_out == 0) return;
  DimIndexer kept = make_dim_indexer(ks, kst), red = make_dim_indexer(rs, rst);
  const int64_t kin = kept.nd ? kept.strides[kept.nd - 1] : 0;
  const int64_t rin = red.nd ? red.strides[red.nd - 1] : 0;
  bool row;
  if (n_out == 1) row = true;
  else if (n_red <= 1) row = false;
  else row = rin == 1 || (kin != 1 && n_red >= 32);
  int bx, by;
  if (row) {
    bx = static_cast<int>(std::min<int64_t>(next_pow2(std::max<int64_t>(n_red, 1)), kRedThreads));
    // Many short rows (attention's rowsum(dO * O) over head size 64: 196k rows): one warp per
    // row, no shared-memory round trip; the rows give the parallelism.
    if (bx > 32 && n_red <= 1024 && n_out >= static_cast<int64_t>(sm_count()) * 256) bx = 32;
    by = kRedThreads / bx;
  } else {
    by = static_cast<int>(std::min<int64_t>(next_pow2(std::max<int64_t>(n_red, 1)), 8));
    bx = kRedThreads / by;
    int64_t po = next_pow2(n_out);
    if (po < bx) {
      bx = static_cast<int>(po);
      by = static_cast<int>(std::min<int64_t>(next_pow2(std::max<int64_t>(n_red, 1)), kRedThreads / bx));
    }
  }
  const int64_t per_block = row ? by : bx;
  const int coop = row ? bx : by;
  const int64_t nb = (n_out + per_block - 1) / per_block;
  const int64_t target = static_cast<int64_t>(sm_count()) * 8;
  int64_t splits = 1;
  if (nb < target && n_red > static_cast<int64_t>(coop) * 64) {
    splits = std::min<int64_t>((target + nb - 1) / nb, (n_red + coop * 32 - 1) / (coop * 32));
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 4096));
  }
  int64_t chunk = n_red;
  if (splits > 1) {
    chunk = (n_red + splits - 1) / splits;
    splits = (n_red + chunk - 1) / chunk;
  }
  const unsigned grid_x = static_cast<unsigned>(std::min<int64_t>(nb, 1 << 20));
  cudaStream_t stream = current_stream();
  const auto* src = static_cast<const typename R::In*>(in.raw_data());
  if (splits <= 1) {
    reduce_kernel<R><<<dim3(grid_x, 1), dim3(bx, by), 0, stream>>>(src, r, kept, red, n_out, n_red,
                                                                   chunk, row, nullptr);
    DS_CUDA_LAUNCH_CHECK();
    return;
  }
  Tensor ws = Tensor::empty({splits * n_out * static_cast<int64_t>(sizeof(Acc))}, DType::u8, in.device());
  Acc* wp = static_cast<Acc*>(ws.raw_data());
  reduce_kernel<R><<<dim3(grid_x, static_cast<unsigned>(splits)), dim3(bx, by), 0, stream>>>(
      src, r, kept, red, n_out, n_red, chunk, row, wp);
  DS_CUDA_LAUNCH_CHECK();
  reduce_merge_splits_kernel<R><<<blocks_for(n_out, 256), 256, 0, stream>>>(r, wp, n_out, static_cast<int>(splits));
  DS_CUDA_LAUNCH_CHECK();
}

}  // namespace deepseek::cuda
