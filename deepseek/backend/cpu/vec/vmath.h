// Branch-free float32 exp, log and tanh that the compiler vectorizes inside `omp simd` loops
// (libm's scalar calls would keep those loops scalar). Accuracy: within 2 ulp of libm over the
// float range (tests check against std:: functions). f64 uses libm.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace deepseek::cpu::vmath {

// Cephes-style exp: n = round(x / ln2), r = x - n ln2 (two-part ln2), 2^n * p(r).
inline float expf(float x) {
  x = x > 88.7228391f ? 88.7228391f : (x < -103.972084f ? -103.972084f : x);
  float n = std::nearbyint(x * 1.44269504088896341f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n as two factors so n down to -150 (denormal results) stays representable.
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni / 2, n2 = ni - n1;
  float s1 = std::bit_cast<float>((n1 + 127) << 23);
  float s2 = std::bit_cast<float>((n2 + 127) << 23);
  return p * s1 * s2;
}

inline float logf(float x) {
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log x = e ln2 + log m, log m by a series in
  // f = m - 1 (Cephes logf).
  int32_t bits = std::bit_cast<int32_t>(x);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1 : e;
  float f = small ? m + m - 1.0f : m - 1.0f;
  float z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  float fe = static_cast<float>(e);
  y += -2.12194440e-4f * fe;
  y += -0.5f * z;
  float r = f + y + 0.693359375f * fe;
  // Special cases without branches: 0 -> -inf, negative/NaN -> NaN, inf -> inf, denormals
  // fall back to libm (rare; keeps the fast path exact for normal inputs).
  r = x == 0.0f ? -INFINITY : r;
  r = (x < 0.0f || x != x) ? NAN : r;
  r = x == INFINITY ? INFINITY : r;
  return r;
}

inline float tanhf(float x) {
  float ax = std::fabs(x);
  // |x| < 0.625: odd polynomial (Cephes tanhf); else 1 - 2 / (exp(2|x|) + 1).
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = x + x * z * p;
  float e = expf(2.0f * ax);
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = std::copysign(big, x);
  return ax < 0.625f ? small : big;
}

inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

}  // namespace deepseek::cpu::vmath
