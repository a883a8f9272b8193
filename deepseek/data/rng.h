// Per-example random streams for data augmentation. A stream is Philox4x32-10 keyed by a
// hash of (seed, epoch, example index) and counted from zero, so what an example's
// augmentation draws depends only on those three numbers — not on which worker thread
// produced it, in what order, or how many workers there are.
#pragma once

#include <cstdint>

#include "deepseek/core/generator.h"

namespace deepseek::data {

// SplitMix64 finalizer: a bijective 64-bit mix, used to derive stream keys.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t key) : key_(key) {}
  // The stream for example `index` in `epoch` of a loader seeded with `seed`.
  static Rng for_example(uint64_t seed, int64_t epoch, int64_t index) {
    return Rng(mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index)));
  }
  // The stream that shuffles `epoch` (distinct from every example stream by a domain tag).
  static Rng for_shuffle(uint64_t seed, int64_t epoch) {
    return Rng(mix64(mix64(mix64(seed ^ 0x53485546464C45ull) ^ static_cast<uint64_t>(epoch)) ^ ~0ull));
  }

  uint32_t next_u32() {
    if (lane_ == 4) {
      block_ = Philox::block(key_, counter_++);
      lane_ = 0;
    }
    return block_[lane_++];
  }
  uint64_t next_u64() {
    uint64_t hi = next_u32();
    return (hi << 32) | next_u32();
  }
  // [0, 1) with 24 random bits (the same mapping as the tensor generators).
  float uniform() { return Philox::uniform(next_u32()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(uniform()); }
  bool bernoulli(double p) { return uniform() < p; }
  // Uniform integer in [lo, hi), unbiased (Lemire's multiply-and-reject). Requires lo < hi.
  int64_t randint(int64_t lo, int64_t hi) {
    const uint64_t n = static_cast<uint64_t>(hi - lo);
    unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return lo + static_cast<int64_t>(m >> 64);
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
  Philox::Block block_{};
  int lane_ = 4;
};

}  // namespace deepseek::data
