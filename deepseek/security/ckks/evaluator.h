// Homomorphic operations on CKKS ciphertexts, with automatic level and scale management.
//
// Two layers. The primitive ops (multiply without relinearization, relinearize, rescale,
// mod_switch_to, rotate, conjugate, ...) do exactly one thing, like SEAL's, and are what the
// benchmarks time. The managed ops (add/sub on mismatched operands, mul, mul_plain, mul_scalar,
// square) bring operands to a common level and scale first and rescale after a product:
//   - scales are tracked exactly; every level l has a canonical scale s_l (CkksContext::
//     level_scale) that fresh encryptions and mul-then-rescale results share;
//   - an operand at a higher level is brought down with a constant multiply + rescale that
//     lands on the other operand's scale (error below 2^-40 relative), plain operands are
//     encoded at the scale that makes the product land exactly on s_{l-1};
//   - running out of levels throws DepthExhausted with the levels needed and left.
// All ops are thread-parallel over RNS limbs (OpenMP); an Evaluator is safe to share.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "deepseek/security/ckks/encoder.h"
#include "deepseek/security/ckks/errors.h"
#include "deepseek/security/ckks/keys.h"
#include "deepseek/security/ckks/keyswitch.h"
#include "deepseek/security/ckks/plaintext.h"

namespace deepseek::security::ckks {

class Evaluator {
 public:
  explicit Evaluator(ContextPtr ctx, std::shared_ptr<const RelinKeys> relin = nullptr,
                     std::shared_ptr<const GaloisKeys> galois = nullptr);
  void set_relin_keys(std::shared_ptr<const RelinKeys> k) { relin_ = std::move(k); }
  void set_galois_keys(std::shared_ptr<const GaloisKeys> k) { galois_ = std::move(k); }
  const ContextPtr& context() const { return ctx_; }
  const CkksEncoder& encoder() const { return encoder_; }

  // --- additive (managed: operands are aligned to a common level and scale) ---
  Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext negate(const Ciphertext& a) const;
  void negate_inplace(Ciphertext& a) const;
  Ciphertext add_plain(const Ciphertext& a, const Plaintext& p) const;
  Ciphertext add_scalar(const Ciphertext& a, double v) const;  // no level used

  // --- primitive multiplicative ops ---
  Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;  // 3 parts, scale product
  void multiply_inplace(Ciphertext& a, const Ciphertext& b) const;
  Ciphertext multiply_plain(const Ciphertext& a, const Plaintext& p) const;  // no rescale
  // Σ_i a_i ⊙ p_i (no rescale) with one reduction per coefficient (products summed in 128
  // bits): the inner sums of baby-step/giant-step transforms. The a_i share level, scale and
  // part count; the p_i share a scale. At most 256 terms.
  Ciphertext multiply_plain_sum(const std::vector<const Ciphertext*>& a,
                                const std::vector<const Plaintext*>& p) const;
  Ciphertext multiply_int(const Ciphertext& a, std::int64_t k) const;  // exact, no level
  Ciphertext relinearize(const Ciphertext& a) const;
  void relinearize_inplace(Ciphertext& a) const;
  Ciphertext rescale(const Ciphertext& a) const;
  void rescale_inplace(Ciphertext& a) const;
  Ciphertext mod_switch_to(const Ciphertext& a, int level) const;  // drops primes, same scale
  void mod_switch_to_inplace(Ciphertext& a, int level) const;

  // --- managed multiplicative ops (consume exactly one level) ---
  Ciphertext mul(const Ciphertext& a, const Ciphertext& b) const;
  Ciphertext square(const Ciphertext& a) const;
  Ciphertext mul_plain(const Ciphertext& a, std::span<const double> values) const;
  Ciphertext mul_scalar(const Ciphertext& a, double v) const;
  // Plaintext encoding of `values` such that multiply_plain + rescale of `a` lands on the
  // canonical scale of level a.level - 1 (reuse it for many ciphertexts at that level/scale).
  Plaintext encode_for_mul(const Ciphertext& a, std::span<const double> values) const;
  Ciphertext mul_plain_rescale(const Ciphertext& a, const Plaintext& p) const;

  // --- rotations (left by `steps` slots; negative = right) ---
  Ciphertext rotate(const Ciphertext& a, int steps) const;
  void rotate_inplace(Ciphertext& a, int steps) const;
  // Many rotations of one ciphertext sharing one decomposition (hoisting). Every step must
  // have its own Galois key.
  std::vector<Ciphertext> rotate_hoisted(const Ciphertext& a, const std::vector<int>& steps) const;
  Ciphertext conjugate(const Ciphertext& a) const;
  Ciphertext apply_galois(const Ciphertext& a, std::uint64_t galois_elt) const;
  bool has_rotation_key(int steps) const;

  // --- level / scale management ---
  // Brings `a` down to `level` with exactly `scale` (one constant multiply + rescale).
  Ciphertext adjust_to(const Ciphertext& a, int level, double scale) const;
  // Makes a and b share level and scale (in place on copies the caller owns).
  void align(Ciphertext& a, Ciphertext& b) const;
  // Throws DepthExhausted if `a` has fewer than `needed` levels left.
  void require_levels(const Ciphertext& a, int needed, const std::string& what) const;

  void check(const Ciphertext& a, const char* op) const;

 private:
  void multiply_const_inplace(Ciphertext& a, double integral_value) const;
  void add_sub_inplace(Ciphertext& a, const Ciphertext& b, bool subtract) const;
  const KeySwitchKey& galois_key(std::uint64_t g, int steps) const;
  ContextPtr ctx_;
  CkksEncoder encoder_;
  std::shared_ptr<const RelinKeys> relin_;
  std::shared_ptr<const GaloisKeys> galois_;
};

bool scales_match(double a, double b);

}  // namespace deepseek::security::ckks
