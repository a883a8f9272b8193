// Index arithmetic shared by the shape/indexing op definitions (their backward rules) and the
// CPU kernels: which source position an output position of pad or roll reads, so forward and
// backward can never disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deepseek/core/error.h"

namespace deepseek::ops::index_math {

enum class PadMode { constant, reflect, replicate, circular };

inline PadMode pad_mode(const std::string& m) {
  if (m == "constant") return PadMode::constant;
  if (m == "reflect") return PadMode::reflect;
  if (m == "replicate") return PadMode::replicate;
  if (m == "circular") return PadMode::circular;
  DS_THROW("[pad] unknown mode '", m, "' (expected constant, reflect, replicate or circular)");
}

// Source index along one dim of size n for output index o of a dim padded by `before`;
// -1 means "the fill value" (constant mode only).
inline int64_t pad_source(int64_t o, int64_t n, int64_t before, PadMode mode) {
  int64_t i = o - before;
  switch (mode) {
    case PadMode::constant: return (i >= 0 && i < n) ? i : -1;
    case PadMode::replicate: return i < 0 ? 0 : (i >= n ? n - 1 : i);
    case PadMode::circular: return ((i % n) + n) % n;
    case PadMode::reflect: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t r = ((i % period) + period) % period;
      return r < n ? r : period - r;
    }
  }
  return -1;
}

// Source index along a dim of size n rolled by `shift` (output o reads input (o - shift) mod n).
inline int64_t roll_source(int64_t o, int64_t n, int64_t shift) {
  int64_t s = n == 0 ? 0 : ((shift % n) + n) % n;
  int64_t i = o - s;
  return i < 0 ? i + n : i;
}

// The (before, after) padding of each dim of an ndim tensor from torch-style pairs that start
// at the last dim. Returns 2*ndim entries, dim-major: [b0, a0, b1, a1, ...].
inline std::vector<int64_t> pad_per_dim(const std::vector<int64_t>& pad, int64_t ndim) {
  std::vector<int64_t> r(2 * ndim, 0);
  int64_t pairs = static_cast<int64_t>(pad.size()) / 2;
  for (int64_t k = 0; k < pairs; ++k) {
    int64_t d = ndim - 1 - k;
    r[2 * d] = pad[2 * k];
    r[2 * d + 1] = pad[2 * k + 1];
  }
  return r;
}

}  // namespace deepseek::ops::index_math
