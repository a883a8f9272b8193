// What the CPU and CUDA kernels of attention_probs / attention_probs_backward / tf32_split
// (the fused kernels of scaled_dot_product_attention's composite, ops/defs/attention.cpp) share: their parameters and
// the per-element math, so both backends compute the same values and draw the same dropout
// mask as the dropout op (element i: Philox counter offset + i / 4, lane i % 4, kept when
// its uniform is >= p, scaled by 1 / (1 - p)).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "deepseek/core/generator.h"
#include "deepseek/core/tensor.h"
#include "deepseek/ops/op_def.h"

namespace deepseek {

struct AttentionProbsParams {
  int64_t rows = 0;  // B * L
  int64_t L = 0, S = 0;
  float scale = 1.f;
  bool causal = false;
  float p = 0.f;           // dropout probability
  float keep_scale = 1.f;  // 1 / (1 - p)
  uint64_t seed = 0, offset = 0;
};

inline AttentionProbsParams attention_probs_params(const Tensor& scores, const ops::Attrs& a) {
  AttentionProbsParams r;
  r.L = scores.sizes()[1];
  r.S = scores.sizes()[2];
  r.rows = scores.sizes()[0] * r.L;
  r.scale = static_cast<float>(a.get<double>("scale"));
  r.causal = a.get<int64_t>("is_causal", 0) != 0;
  double p = a.get<double>("p", 0.0);
  r.p = static_cast<float>(p);
  r.keep_scale = p < 1 ? static_cast<float>(1.0 / (1.0 - p)) : 0.f;
  r.seed = static_cast<uint64_t>(a.get<int64_t>("seed", 0));
  r.offset = static_cast<uint64_t>(a.get<int64_t>("offset", 0));
  return r;
}

// Dropout factors of consecutive elements: one Philox block serves four of them. (Holds
// copies of the parameters: a reference to a kernel's parameter would put it in local memory.)
struct DropoutDraw {
  float prob, keep_scale;
  uint64_t seed, offset;
  uint64_t counter = ~uint64_t{0};
  Philox::Block bits{};
  DS_HOST_DEVICE explicit DropoutDraw(const AttentionProbsParams& p)
      : prob(p.p), keep_scale(p.keep_scale), seed(p.seed), offset(p.offset) {}
  // 0 (dropped) or keep_scale for element i of the (B, L, S) block; 1 without dropout.
  DS_HOST_DEVICE float factor(uint64_t i) {
    if (prob <= 0.f) return 1.f;
    uint64_t c = offset + i / 4;
    if (c != counter) {
      bits = Philox::block(seed, c);
      counter = c;
    }
    return Philox::uniform(bits[i % 4]) >= prob ? keep_scale : 0.f;
  }
  // The factors of elements first .. first + 3, first a multiple of 4 (one Philox block).
  DS_HOST_DEVICE void factors4(uint64_t first, float f[4]) const {
    if (prob <= 0.f) {
      f[0] = f[1] = f[2] = f[3] = 1.f;
      return;
    }
    const Philox::Block b = Philox::block(seed, offset + first / 4);
    for (int e = 0; e < 4; ++e) f[e] = Philox::uniform(b[e]) >= prob ? keep_scale : 0.f;
  }
};

// The scaled score of (query row i, key j), -inf where causality masks it.
DS_HOST_DEVICE inline float attention_score(float raw, const AttentionProbsParams& p, int64_t i, int64_t j) {
  return p.causal && j > i ? -INFINITY : raw * p.scale;
}

// tf32_split: x = hi + lo exactly, hi rounded (to nearest) to TF32's 10-bit mantissa, so the
// three TF32 products hi*hi + hi*lo + lo*hi reach f32-level accuracy ("3xTF32", the f32 path
// of PyTorch's memory-efficient attention): the dropped lo*lo term and lo's own rounding to
// TF32 are below 2^-21 of the product. Infinities and NaN keep hi = x, lo = 0; a finite x that
// would round to infinity truncates instead.
DS_HOST_DEVICE inline void tf32_split_value(float x, float& hi, float& lo) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  if ((b & 0x7f800000u) == 0x7f800000u) {
    hi = x;
    lo = 0.f;
    return;
  }
  uint32_t r = (b + 0x1000u) & ~0x1fffu;
  if ((r & 0x7f800000u) == 0x7f800000u) r = b & ~0x1fffu;
  memcpy(&hi, &r, sizeof r);
  lo = x - hi;
}

// tf32_split's output row: segment k (of 3, each E wide) holds hi where pattern[k] is 0, lo
// where it is 1.
struct Tf32SplitParams {
  int64_t rows = 0, E = 0;
  int pattern[3] = {0, 0, 1};
};

inline Tf32SplitParams tf32_split_params(const Tensor& x, const ops::Attrs& a) {
  Tf32SplitParams r;
  r.E = x.dim() ? x.sizes().back() : 1;
  r.rows = r.E ? x.numel() / r.E : 0;
  auto pat = a.get<std::vector<int64_t>>("pattern");
  for (int k = 0; k < 3; ++k) r.pattern[k] = static_cast<int>(pat[k]);
  return r;
}

}  // namespace deepseek
