// Building blocks of the CPU shape and indexing kernels. The main one is a "table gather":
// every output dim d has a table mapping output coordinate -> element offset in the source
// (or kFill for "write the fill value"). flip, roll, pad (all modes), index_select and
// repeat-like copies are all such separable gathers, so they share one loop that copies
// whole rows with memcpy when the innermost table is a unit-stride run. Data are moved as
// raw bytes of the element's size, so one instantiation serves every dtype of that width.
#pragma once

#include <cstring>
#include <vector>

#include "deepseek/backend/cpu/loops.h"

namespace deepseek::cpu {

inline constexpr int64_t kFill = -1;

// Calls f(tag) with an unsigned integer type of `bytes` bytes.
template <typename F>
decltype(auto) visit_width(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    case 8: return f(TypeTag<uint64_t>{});
    default: DS_THROW("unsupported element size ", bytes);
  }
}

// The bit pattern of `v` converted to dtype t, in a uint64 (low bytes used).
inline uint64_t scalar_bits(const Scalar& v, DType t) {
  uint64_t bits = 0;
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T x = v.to<T>();
    std::memcpy(&bits, &x, sizeof(T));
  });
  return bits;
}

// out (fresh, contiguous, out.sizes()[d] == tab[d].size()) gets
//   out[i0, i1, ...] = src[tab[0][i0] + tab[1][i1] + ...]   (fill where any entry is kFill).
void table_gather(const Tensor& src, Tensor& out, const std::vector<std::vector<int64_t>>& tab,
                  uint64_t fill_bits = 0);

// The identity table of dim d of x: o -> o * stride.
inline std::vector<int64_t> identity_table(const Tensor& x, int64_t d) {
  std::vector<int64_t> t(x.sizes()[d]);
  for (int64_t o = 0; o < x.sizes()[d]; ++o) t[o] = o * x.strides()[d];
  return t;
}

// Reads element `off` of an integer index tensor (i64 or i32) as int64.
inline int64_t read_index(const Tensor& index, int64_t off) {
  return index.dtype() == DType::i64 ? index.data<int64_t>()[off]
                                     : static_cast<int64_t>(index.data<int32_t>()[off]);
}

// The values of an integer index tensor in row-major order, each wrapped from [-size, size)
// into [0, size); an out-of-range value raises naming `op` (before anything is written).
std::vector<int64_t> index_values(const Tensor& index, int64_t size, const char* op);

// A contiguous copy of t made directly (no dispatcher), or t itself when already contiguous.
Tensor contiguous_copy(const Tensor& t);

// dst (any strides) = src broadcast to dst's shape, same dtype.
void copy_same_dtype(Tensor& dst, const Tensor& src);

}  // namespace deepseek::cpu
