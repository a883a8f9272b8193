// A polynomial of Z[X]/(X^N + 1) in RNS form: one row ("limb") of N residues per prime, rows
// contiguous and 64-byte aligned. A poly does not know its primes: its owner does (a
// ciphertext at level l uses q_0..q_l; inside key switching, q_0..q_l then the special primes),
// which keeps the type a plain buffer that level changes can shrink in place.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "deepseek/security/ckks/modarith.h"

namespace deepseek::security::ckks {

// 64-byte aligned blocks from a small size-bucketed cache: CKKS allocates and frees the same
// few polynomial sizes over and over, and fresh multi-megabyte blocks from the OS cost page
// faults and zeroing that rival the arithmetic itself. The cache holds at most 512 MiB.
void* ckks_aligned_alloc(std::size_t bytes);
void ckks_aligned_free(void* p, std::size_t bytes);

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(ckks_aligned_alloc(n * sizeof(T))); }
  // Default-initialises (no zeroing) when no value is given: U64Vec(n) leaves words
  // uninitialised, which saves a full write pass over buffers that are overwritten anyway.
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  void deallocate(T* p, std::size_t n) { ckks_aligned_free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};

using U64Vec = std::vector<u64, AlignedAllocator<u64>>;

// Tag for an RnsPoly whose residues the caller overwrites before reading (no zero fill).
struct Uninit {};

class RnsPoly {
 public:
  RnsPoly() = default;
  RnsPoly(std::size_t n, std::size_t limbs) : n_(n), limbs_(limbs), data_(n * limbs, 0) {}
  RnsPoly(std::size_t n, std::size_t limbs, Uninit) : n_(n), limbs_(limbs), data_(n * limbs) {}

  std::size_t n() const { return n_; }
  std::size_t limbs() const { return limbs_; }
  u64* limb(std::size_t i) { return data_.data() + i * n_; }
  const u64* limb(std::size_t i) const { return data_.data() + i * n_; }
  u64* data() { return data_.data(); }
  const u64* data() const { return data_.data(); }

  // Keeps the first `limbs` rows (dropping primes from the top of the chain).
  void truncate(std::size_t limbs) {
    if (limbs < limbs_) {
      limbs_ = limbs;
      data_.resize(n_ * limbs);
    }
  }
  void resize(std::size_t limbs) {
    limbs_ = limbs;
    data_.resize(n_ * limbs, 0);
  }

 private:
  std::size_t n_ = 0, limbs_ = 0;
  U64Vec data_;
};

}  // namespace deepseek::security::ckks
