// CKKS encoding: a vector of up to N/2 complex (or real) numbers becomes an integer
// polynomial whose evaluations at the primitive 2N-th roots ζ^(5^j) are the values times the
// scale Δ, through the canonical-embedding "special" FFT over the rotation group <5> (so a
// Galois automorphism X -> X^(5^r) rotates the slots by r). Coefficients are rounded, reduced
// into every limb (exactly, also when they exceed 2^63) and moved to NTT form. Decoding
// reverses it, lifting residues to reals by Garner's mixed-radix CRT (exact up to the final
// long-double conversion), so any level decodes without a big-integer library.
#pragma once

#include <complex>
#include <span>
#include <vector>

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/plaintext.h"

namespace deepseek::security::ckks {

class CkksEncoder {
 public:
  explicit CkksEncoder(ContextPtr ctx);

  // scale <= 0 means the level's canonical scale (CkksContext::level_scale); level < 0 means the top level.
  Plaintext encode(std::span<const double> values, double scale = 0, int level = -1) const;
  Plaintext encode(std::span<const std::complex<double>> values, double scale = 0, int level = -1) const;
  Plaintext encode(const std::vector<double>& values, double scale = 0, int level = -1) const {
    return encode(std::span<const double>(values), scale, level);
  }
  // Every slot = value (a constant polynomial: no FFT needed).
  Plaintext encode_constant(double value, double scale = 0, int level = -1) const;

  std::vector<double> decode(const Plaintext& pt) const;  // real parts of all N/2 slots
  std::vector<std::complex<double>> decode_complex(const Plaintext& pt) const;

  // Building blocks shared with the evaluator: rounded real coefficients -> NTT-form limbs
  // q_0..q_level; and NTT-form limbs -> centred real coefficients.
  void coefficients_to_rns(const double* coeffs, RnsPoly& out, int level) const;
  std::vector<long double> rns_to_coefficients(const RnsPoly& ntt_poly, int level) const;

  const ContextPtr& context() const { return ctx_; }

 private:
  void fft_special(std::complex<double>* v) const;      // slots <- coefficients
  void fft_special_inv(std::complex<double>* v) const;  // coefficients <- slots
  ContextPtr ctx_;
  std::size_t n_, slots_;
  std::vector<std::size_t> rot_group_;
  std::vector<std::complex<double>> ksi_;
  std::vector<std::size_t> bitrev_;
  // Garner constants: garner_[i][j] = q_j^{-1} mod q_i for j < i (Shoup pairs).
  std::vector<std::vector<u64>> garner_, garner_shoup_;
};

}  // namespace deepseek::security::ckks
