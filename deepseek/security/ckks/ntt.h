// Negacyclic number-theoretic transform over Z_q[X]/(X^N + 1), the workhorse of RNS-CKKS:
// in NTT form, ring multiplication is a pointwise product. Forward is Cooley–Tukey and
// inverse Gentleman–Sande on bit-reversed powers of a primitive 2N-th root ψ (Longa–Naehrig),
// with Harvey's lazy butterflies: values live in [0, 4q) between layers and are reduced once
// at the end; every twiddle carries its Shoup constant, so a butterfly costs two multiplies.
//
// Kernels are picked once per prime at run time from the CPU's features (never -march=native):
// an AVX-512 IFMA kernel for primes below 2^50 where the CPU has it, else an AVX2 + FMA kernel
// in double precision for primes below 2^52; the portable scalar kernel (64x64->128
// multiplies, which beats AVX2 emulation of 64-bit integer products) for larger primes or
// older CPUs.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "deepseek/security/ckks/modarith.h"

namespace deepseek::security::ckks {

class NttTables {
 public:
  NttTables(std::size_t n, const Modulus& q);

  std::size_t n() const { return n_; }
  const Modulus& modulus() const { return q_; }
  u64 psi() const { return psi_; }

  // In place; input and output in [0, q). Output is in bit-reversed evaluation order:
  // a[k] = A(ψ^(2·brev(k)+1)).
  void forward(u64* a) const;
  void inverse(u64* a) const;

  // The portable kernels, public so tests can compare the vector kernels against them.
  void forward_scalar(u64* a) const;
  void inverse_scalar(u64* a) const;

  // Twiddles: psi_rev_[k] = ψ^brev(k), ipsi_rev_[k] = ψ^-brev(k), each with a Shoup constant.
  std::vector<u64> psi_rev_, psi_rev_shoup_, ipsi_rev_, ipsi_rev_shoup_;
  u64 n_inv_ = 0, n_inv_shoup_ = 0, last_w_ = 0, last_w_shoup_ = 0;
  // IFMA uses 52-bit Shoup constants floor(w 2^52 / q).
  std::vector<u64> psi_rev_shoup52_, ipsi_rev_shoup52_;
  u64 n_inv_shoup52_ = 0, last_w_shoup52_ = 0;
  // AVX2 + FMA uses the twiddles as doubles and w/q in place of the Shoup constant.
  std::vector<double> psi_rev_d_, psi_rev_wq_, ipsi_rev_d_, ipsi_rev_wq_;
  double n_inv_d_ = 0, n_inv_wq_ = 0, last_w_d_ = 0, last_w_wq_ = 0;
  bool use_ifma_ = false, use_avx2_ = false;

 private:
  std::size_t n_;
  int log_n_;
  Modulus q_;
  u64 psi_;
};

// Which vector kernel the CPU and build allow for small primes (below 2^50 for IFMA, 2^52 for
// AVX2): "avx512ifma", "avx2fma" or "scalar".
std::string ntt_backend();
// True when the running CPU has AVX-512F + IFMA (what the vector kernel needs).
bool cpu_has_avx512_ifma();
// True when the running CPU has AVX2 + FMA.
bool cpu_has_avx2_fma();
// Tests and benches can force the scalar kernel (e.g. to compare both).
void set_ntt_force_scalar(bool force);

std::size_t bit_reverse(std::size_t x, int bits);

}  // namespace deepseek::security::ckks
