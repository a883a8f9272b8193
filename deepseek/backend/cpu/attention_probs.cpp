// CPU kernels of attention_probs, attention_probs_backward (see backend/attention_probs.h) and
// tf32_split: one task per run of rows, each row in three passes (max, sum of exp, write)
// forward and one backward.
#include <algorithm>
#include <cmath>
#include <limits>

#include "deepseek/backend/attention_probs.h"
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

template <typename Body>
void over_rows(const AttentionProbsParams& p, Body body) {
  parallel_for(0, p.rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(p.S, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) body(r);
  });
}

void probs_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  const float* s = in[0].data<float>();
  float *probs = out[0].data<float>(), *lse = out[1].data<float>();
  over_rows(p, [&](int64_t r) {
    const int64_t i = r % p.L;
    const float* x = s + r * p.S;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < p.S; ++j) {
      float v = attention_score(x[j], p, i, j);
      m = v > m ? v : m;
    }
    const float base = std::isinf(m) && m < 0 ? 0.f : m;
    float sum = 0.f;
    for (int64_t j = 0; j < p.S; ++j) sum += std::exp(attention_score(x[j], p, i, j) - base);
    const float l = base + std::log(sum);
    DropoutDraw draw(p);
    float* y = probs + r * p.S;
    for (int64_t j = 0; j < p.S; ++j)
      y[j] = std::exp(attention_score(x[j], p, i, j) - l) * draw.factor(static_cast<uint64_t>(r * p.S + j));
    lse[r] = l;
  });
}

// Two passes per row: pd and P (parked in ds) with D = sum_j pd_j dp_j (= dO . O), then ds.
void probs_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  const float *s = in[0].data<float>(), *dp = in[1].data<float>(), *lse = in[2].data<float>();
  float *pd = out[0].data<float>(), *ds = out[1].data<float>();
  over_rows(p, [&](int64_t r) {
    const int64_t i = r % p.L, o = r * p.S;
    DropoutDraw draw(p);
    float d = 0.f;
    for (int64_t j = 0; j < p.S; ++j) {
      float pe = std::exp(attention_score(s[o + j], p, i, j) - lse[r]);
      pd[o + j] = pe * draw.factor(static_cast<uint64_t>(o + j));
      ds[o + j] = pe;
      d += pd[o + j] * dp[o + j];
    }
    for (int64_t j = 0; j < p.S; ++j) ds[o + j] = (pd[o + j] * dp[o + j] - ds[o + j] * d) * p.scale;
  });
}

void tf32_split_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tf32SplitParams p = tf32_split_params(in[0], a);
  const float* x = in[0].data<float>();
  float* y = out[0].data<float>();
  parallel_for(0, p.rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(3 * p.E, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < p.E; ++j) {
        float part[2];
        tf32_split_value(x[r * p.E + j], part[0], part[1]);
        for (int k = 0; k < 3; ++k) y[(3 * r + k) * p.E + j] = part[p.pattern[k]];
      }
  });
}

void install() {
  auto& reg = ops::Registry::get();
  reg.register_kernel("attention_probs", DeviceType::cpu, probs_kernel);
  reg.register_kernel("attention_probs_backward", DeviceType::cpu, probs_backward_kernel);
  reg.register_kernel("tf32_split", DeviceType::cpu, tf32_split_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
