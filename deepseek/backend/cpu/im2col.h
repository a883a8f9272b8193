// im2col / col2im over one image (C, H, W), contiguous: the columns matrix is
// (C * KH * KW) x (OH * OW), row (c, kh, kw), column (oh, ow); positions in the padding read 0.
// Used by the unfold/fold ops and by the f64 convolution path (im2col + dgemm).
#pragma once

#include <cstdint>
#include <cstring>

#include "deepseek/core/dtype.h"

namespace deepseek::cpu {

struct Window2d {
  int64_t C, H, W, KH, KW, OH, OW;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

template <typename T>
void im2col(const T* x, const Window2d& g, T* cols) {
  const int64_t L = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = cols + ((c * g.KH + kh) * g.KW + kw) * L;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t h = oh * g.sh - g.ph + kh * g.dh;
          T* dst = row + oh * g.OW;
          if (h < 0 || h >= g.H) {
            for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow] = T(0.0f);
            continue;
          }
          const T* src = x + (c * g.H + h) * g.W;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t w = ow * g.sw - g.pw + kw * g.dw;
            dst[ow] = (w >= 0 && w < g.W) ? src[w] : T(0.0f);
          }
        }
      }
}

// Adds the columns back into x (which the caller zeroes first).
template <typename T>
void col2im(const T* cols, const Window2d& g, T* x) {
  using A = opmath_t<T>;
  const int64_t L = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = cols + ((c * g.KH + kh) * g.KW + kw) * L;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t h = oh * g.sh - g.ph + kh * g.dh;
          if (h < 0 || h >= g.H) continue;
          T* dst = x + (c * g.H + h) * g.W;
          const T* src = row + oh * g.OW;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t w = ow * g.sw - g.pw + kw * g.dw;
            if (w >= 0 && w < g.W) dst[w] = T(static_cast<A>(dst[w]) + static_cast<A>(src[ow]));
          }
        }
      }
}

}  // namespace deepseek::cpu
