// Building blocks of the CUDA shape, indexing, embedding and pooling kernels (the CUDA
// counterpart of backend/cpu/index_common.h):
//  - gather_map: out[i0, i1, ...] = src[sum_d map_d(i_d) * stride_d] (or a fill value), where
//    each dim's map is the identity, a flip, a roll, a pad (any mode) or a table of indices;
//    flip, roll, pad, tril/triu, index_select, index and embedding are all such gathers;
//  - sorted_segment_apply: the deterministic scatter engine. Items (destination key, source
//    offset) are stably sorted by key, so every destination is written by one thread that walks
//    its items in their original order — the CPU kernels' order, so sums match them exactly and
//    duplicates resolve as on the CPU (last write wins). No atomics.
//  - check_index_ranges: validates index tensors on the device and raises a clear Error naming
//    the first bad value (row-major), before anything is written. One host sync.
// Values that are only moved are handled as raw bytes of the element's width (visit_width).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "deepseek/backend/cuda/device/loops.cuh"

namespace deepseek::cuda {

constexpr int kMaxMapDims = 16;

// Calls f(Tag<U>{}) with an unsigned integer type of `bytes` bytes.
template <typename F>
decltype(auto) visit_width(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f(Tag<uint8_t>{});
    case 2: return f(Tag<uint16_t>{});
    case 4: return f(Tag<uint32_t>{});
    case 8: return f(Tag<uint64_t>{});
    default: break;
  }
  DS_THROW("unsupported element size ", bytes, " on CUDA");
}

// Element offsets of a tensor walked in row-major order of `sizes` (broadcast dims have
// stride 0). Size-1 dims are dropped and dims contiguous with each other merged.
struct Strided {
  int nd = 0;
  int64_t size[kMaxMapDims];
  int64_t stride[kMaxMapDims];
  __device__ __forceinline__ int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      int64_t s = size[d];
      off += (linear % s) * stride[d];
      linear /= s;
    }
    return off;
  }
};
// t walked over its own shape, or broadcast to `shape`.
Strided make_strided(const Tensor& t);
Strided make_strided(const Tensor& t, const Shape& shape);

// Reads element `off` of an i64 or i32 index array as int64.
__device__ __forceinline__ int64_t load_index(const void* p, bool i64, int64_t off) {
  return i64 ? static_cast<const int64_t*>(p)[off] : static_cast<int64_t>(static_cast<const int32_t*>(p)[off]);
}

// The bit pattern of `v` converted to dtype t as the CPU converts it (low bytes used).
uint64_t scalar_bits(const Scalar& v, DType t);

// dst (any strides) = src broadcast to dst's shape; same element size (bytes are copied).
void copy_bytes(const Tensor& dst, const Tensor& src);
// t itself when contiguous, else a contiguous copy (made without the dispatcher).
Tensor contiguous_cuda(const Tensor& t);
// A fresh contiguous device tensor.
Tensor empty_cuda(const Shape& s, DType t, Device d);

// Calls f(y) with a contiguous tensor to compute into: out itself, or a temporary copied back.
template <typename F>
void into_contiguous(const Tensor& out, F f) {
  if (out.is_contiguous()) return f(out);
  Tensor tmp = empty_cuda(out.sizes(), out.dtype(), out.device());
  f(tmp);
  copy_bytes(out, tmp);
}

// Range checks of index tensors (i64/i32, any strides): every value in [lo, hi), except the
// value `skip` when set (a loss's ignore_index). On the first failing check (in list order)
// raises the Error message(v) for its first bad value v in row-major order. Empty index
// tensors pass. Runs on the device; one wait for all checks.
struct RangeCheck {
  Tensor index;
  int64_t lo, hi;
  std::function<std::string(int64_t)> message;
  std::optional<int64_t> skip = std::nullopt;
};
// In two steps, so a kernel that never reads through a bad index can be queued in between and
// keep the device busy while the host waits: start queues the checks and the copy of their
// results to pinned memory; finish waits for that copy alone and raises the Error.
class PendingRangeChecks {
 public:
  explicit PendingRangeChecks(std::vector<RangeCheck> checks);
  ~PendingRangeChecks();
  PendingRangeChecks(const PendingRangeChecks&) = delete;
  PendingRangeChecks& operator=(const PendingRangeChecks&) = delete;
  void finish();

 private:
  std::vector<RangeCheck> checks_;  // the non-empty ones
  Tensor first_bad_host_;           // pinned: per check, the first bad position or all ones
  cudaEvent_t copied_ = nullptr;
};
void check_index_ranges(const std::vector<RangeCheck>& checks);
inline void check_index_range(const Tensor& index, int64_t lo, int64_t hi,
                              std::function<std::string(int64_t)> message) {
  check_index_ranges({RangeCheck{index, lo, hi, std::move(message)}});
}
// "[op] index v is out of bounds for dim of size n" (the CPU's wording), for [-n, n).
std::function<std::string(int64_t)> bounds_message(const char* op, int64_t n, bool dim_of_size = true);

// --- gather_map ------------------------------------------------------------------------------
enum MapKind : int {
  kMapIdentity = 0,
  kMapFlip,
  kMapRoll,          // a = shift in [0, n)
  kMapPadConstant,   // a = before
  kMapPadReflect,
  kMapPadReplicate,
  kMapPadCircular,
  kMapTable,         // source index = table[o * table_stride] (+ n when negative; validated)
};
struct DimMap {
  int64_t size = 1;    // output size
  int64_t stride = 0;  // source element stride
  int64_t n = 1;       // source size
  int64_t a = 0;
  int kind = kMapIdentity;
  bool table_i64 = true;
  const void* table = nullptr;
  int64_t table_stride = 1;
};
// Keeps the lower (mode 1: col - row <= k) or upper (mode 2: col - row >= k) triangle of the
// last two dims; the rest is zero.
struct TriMask {
  int mode = 0;
  int64_t k = 0;
};
// out (contiguous, numel = product of the map sizes) gets src gathered through `maps`
// (one per output dim, outermost first); positions a pad maps outside read `fill_bits`.
void gather_map(const Tensor& src, const Tensor& out, std::vector<DimMap> maps, uint64_t fill_bits = 0,
                TriMask tri = {});

// --- sorted_segment_apply ------------------------------------------------------------------
enum class SegmentMode : int {
  sum_rounded = 0,  // dst = T(dst + src) item by item (the CPU's index_add / scatter_add order)
  sum_opmath = 1,   // dst + sum of items accumulated in opmath, rounded once (embedding_backward)
  last = 2,         // dst = the last item's value (scatter / index_put)
};
struct SegmentSpec {
  int64_t outer = 1, inner = 1;          // each item covers outer x inner elements
  int64_t dst_outer = 0, dst_inner = 1;  // element strides in dst
  int64_t src_outer = 0, src_inner = 1;  // element strides in src
  int64_t key_bound = 0;                 // keys lie in [0, key_bound)
  int64_t skip_key = -1;                 // items with this key are ignored
  SegmentMode mode = SegmentMode::sum_rounded;
};
// keys, vals: contiguous i64 device tensors of n items (destination and source element offsets,
// in processing order); both are consumed. dst and src have the same dtype; offsets are from
// their data pointers (element 0).
void sorted_segment_apply(const Tensor& dst, const Tensor& src, Tensor keys, Tensor vals, const SegmentSpec& spec);

// keys[i] = wrap(index[i]) * kmul, vals[i] = i * vmul for a contiguous index tensor (negative
// values wrapped by adding `wrap`). Fresh i64 tensors.
void keys_from_index(const Tensor& index, int64_t wrap, int64_t kmul, int64_t vmul, Tensor& keys, Tensor& vals);

}  // namespace deepseek::cuda
