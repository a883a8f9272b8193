#include "deepseek/security/ckks/prng.h"

#include <cmath>
#include <cstring>
#include <random>

namespace deepseek::security::ckks {

namespace {
inline std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
#define DS_QR(a, b, c, d)        \
  a += b; d ^= a; d = rotl(d, 16); \
  c += d; b ^= c; b = rotl(b, 12); \
  a += b; d ^= a; d = rotl(d, 8);  \
  c += d; b ^= c; b = rotl(b, 7);
}  // namespace

Seed random_seed() {
  std::random_device rd;
  Seed s;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::uint32_t v = rd();
    std::memcpy(s.data() + i, &v, 4);
  }
  return s;
}

Prng::Prng(const Seed& seed, std::uint64_t domain, std::uint64_t index) {
  key_state_[0] = 0x61707865;
  key_state_[1] = 0x3320646e;
  key_state_[2] = 0x79622d32;
  key_state_[3] = 0x6b206574;
  for (int i = 0; i < 8; ++i) {
    std::uint32_t w;
    std::memcpy(&w, seed.data() + 4 * i, 4);
    key_state_[4 + i] = w;
  }
  // Block counter in word 12 (64-bit across 12..13 would shorten the nonce; 2^32 blocks =
  // 256 GiB per stream is plenty), nonce = (domain, index) in words 13..15.
  key_state_[12] = 0;
  key_state_[13] = std::uint32_t(domain);
  key_state_[14] = std::uint32_t(index);
  key_state_[15] = std::uint32_t(index >> 32) ^ std::uint32_t(domain >> 32);
}

void Prng::refill() {
  std::array<std::uint32_t, 16> x = key_state_;
  for (int i = 0; i < 10; ++i) {
    DS_QR(x[0], x[4], x[8], x[12]) DS_QR(x[1], x[5], x[9], x[13])
    DS_QR(x[2], x[6], x[10], x[14]) DS_QR(x[3], x[7], x[11], x[15])
    DS_QR(x[0], x[5], x[10], x[15]) DS_QR(x[1], x[6], x[11], x[12])
    DS_QR(x[2], x[7], x[8], x[13]) DS_QR(x[3], x[4], x[9], x[14])
  }
  for (int i = 0; i < 16; ++i) block_[i] = x[i] + key_state_[i];
  ++key_state_[12];
  pos_ = 0;
}

std::uint32_t Prng::next_u32() {
  if (pos_ >= 16) refill();
  return block_[pos_++];
}

std::uint64_t Prng::next_u64() {
  std::uint64_t lo = next_u32();
  std::uint64_t hi = next_u32();
  return lo | (hi << 32);
}

double Prng::next_double() { return double(next_u64() >> 11) * 0x1.0p-53; }

u64 Prng::uniform_mod(u64 q) {
  // Accept below the largest multiple of q that fits in 64 bits.
  const u64 limit = ~u64(0) - (~u64(0) % q) - 1;
  for (;;) {
    u64 v = next_u64();
    if (v <= limit) return v % q;
  }
}

int Prng::ternary() {
  for (;;) {
    std::uint32_t v = next_u32();
    if (v < 0xFFFFFFFFu - (0xFFFFFFFFu % 3)) return int(v % 3) - 1;
  }
}

std::int64_t Prng::gaussian() {
  constexpr double kSigma = 3.2, kBound = 6 * 3.2;
  for (;;) {
    double g;
    if (has_spare_) {
      g = spare_;
      has_spare_ = false;
    } else {
      double u1 = next_double(), u2 = next_double();
      if (u1 <= 0) continue;
      double r = std::sqrt(-2 * std::log(u1));
      g = r * std::cos(2 * M_PI * u2);
      spare_ = r * std::sin(2 * M_PI * u2);
      has_spare_ = true;
    }
    g *= kSigma;
    if (std::fabs(g) <= kBound) return std::int64_t(std::llround(g));
  }
}

}  // namespace deepseek::security::ckks
