// Counter-based random numbers: Philox4x32-10 with a (seed, offset) state per device.
// Element i of a random op uses counter (offset + i/4) and lane i%4, whatever thread or launch
// shape computes it, and one exact u32 -> float mapping, so CPU and CUDA kernels produce
// bit-identical uniforms and dropout masks.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "deepseek/core/device.h"

// The Philox functions compile for the GPU too (CUDA kernels include this header).
#if defined(__CUDACC__)
#define DS_HOST_DEVICE __host__ __device__
#else
#define DS_HOST_DEVICE
#endif

namespace deepseek {

struct Philox {
  using Block = std::array<uint32_t, 4>;
  // Ten rounds of Philox4x32 on counter c with key k (Salmon et al., SC'11).
  DS_HOST_DEVICE static inline Block block(uint64_t seed, uint64_t counter) {
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    Block c{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
    for (int r = 0; r < 10; ++r) {
      uint64_t p0 = uint64_t{0xD2511F53u} * c[0];
      uint64_t p1 = uint64_t{0xCD9E8D57u} * c[2];
      c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<uint32_t>(p0)};
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    return c;
  }
  // The shared u32 -> [0, 1) mapping: 24 random bits, exactly representable in f32.
  DS_HOST_DEVICE static inline float uniform(uint32_t x) { return static_cast<float>(x >> 8) * 0x1p-24f; }
  // Box–Muller over lanes (0,1) and (2,3); returns the normal for `lane`.
  DS_HOST_DEVICE static inline float normal(const Block& b, int lane) {
    int pair = lane & 2;
    float u1 = 1.0f - uniform(b[pair]);  // (0, 1]: log is finite
    float u2 = uniform(b[pair + 1]);
    float r = std::sqrt(-2.0f * std::log(u1));
    float theta = 6.2831853071795864769f * u2;
    return (lane & 1) ? r * std::sin(theta) : r * std::cos(theta);
  }
};

class Generator {
 public:
  struct State {
    uint64_t seed = 67280421310721ull;
    uint64_t offset = 0;
  };

  // Reserves `n` elements' worth of counters and returns (seed, first counter). Each op
  // reserves its own range, so ops are independent of each other's sizes only through offset.
  State reserve(uint64_t n_elements);
  State state() const;
  void set_state(State s);
  void manual_seed(uint64_t seed);

 private:
  mutable std::mutex mu_;
  State state_;
};

Generator& default_generator(Device device = kCPU);
// Seeds the generators of every device.
void manual_seed(uint64_t seed);

}  // namespace deepseek
