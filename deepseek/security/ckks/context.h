// The precomputed state every CKKS object is defined against: the generated prime chain,
// one NTT table per prime, and the RNS constants of rescaling, hybrid key switching and the
// Galois automorphisms. Build it once with CkksContext::create and share the pointer; it is
// immutable afterwards (the Galois permutation cache is internally locked), so any number of
// threads may use it. Its id (a hash of the chain) is stamped into keys, plaintexts and
// ciphertexts so objects from another parameter set are refused instead of misread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "deepseek/security/ckks/modarith.h"
#include "deepseek/security/ckks/ntt.h"
#include "deepseek/security/ckks/params.h"

namespace deepseek::security::ckks {

class CkksContext {
 public:
  static std::shared_ptr<const CkksContext> create(const CkksParameters& params);

  const CkksParameters& params() const { return params_; }
  std::size_t n() const { return n_; }
  std::size_t slots() const { return n_ / 2; }
  int max_level() const { return int(num_data_) - 1; }
  std::size_t num_data() const { return num_data_; }
  std::size_t num_special() const { return num_special_; }
  std::size_t num_primes() const { return moduli_.size(); }
  std::uint64_t id() const { return id_; }
  double log_qp() const;
  // The scale a ciphertext at level l has when every multiply is followed by a rescale from
  // a fresh encryption at Δ: s_L = Δ, s_{l-1} = s_l^2 / q_l. Encoding defaults to it.
  double level_scale(int level) const { return level_scale_[std::size_t(level)]; }

  // Primes indexed over the whole chain: 0..L data, L+1..L+k special.
  const Modulus& modulus(std::size_t idx) const { return moduli_[idx]; }
  const NttTables& ntt(std::size_t idx) const { return *ntt_[idx]; }
  std::size_t special_index(std::size_t k) const { return num_data_ + k; }

  // Hybrid key switching: digit j covers data primes [digit_begin(j), digit_end(j)).
  std::size_t digit_width() const { return num_special_; }
  std::size_t num_digits(int level) const { return (std::size_t(level) + num_special_) / num_special_; }
  std::size_t digit_begin(std::size_t j) const { return j * num_special_; }
  std::size_t digit_end(std::size_t j, int level) const {
    return std::min((j + 1) * num_special_, std::size_t(level) + 1);
  }

  // Rescale at level l: q_l^{-1} mod q_i (i < l) and its Shoup constant.
  u64 inv_q_last(int level, std::size_t i) const { return inv_q_last_[level][i]; }
  u64 inv_q_last_shoup(int level, std::size_t i) const { return inv_q_last_shoup_[level][i]; }
  // ModDown: P^{-1} mod q_i; (P/p_k)^{-1} mod p_k; (P/p_k) mod q_i.
  u64 inv_p_mod_q(std::size_t i) const { return inv_p_mod_q_[i]; }
  u64 p_mod_q(std::size_t i) const { return p_mod_q_[i]; }
  const std::vector<u64>& phat_inv() const { return phat_inv_; }
  const std::vector<u64>& phat_mod_q(std::size_t i) const { return phat_mod_q_[i]; }

  // NTT-domain permutation of X -> X^g: out[k] = in[perm[k]] (g odd, in [1, 2N)).
  const std::vector<std::uint32_t>& galois_permutation(std::uint64_t g) const;
  // Galois element of a left rotation by `steps` slots (negative: right), and of conjugation.
  std::uint64_t galois_element(int steps) const;
  std::uint64_t conjugation_element() const { return 2 * n_ - 1; }

 private:
  CkksContext() = default;
  CkksParameters params_;
  std::size_t n_ = 0, num_data_ = 0, num_special_ = 0;
  std::uint64_t id_ = 0;
  std::vector<Modulus> moduli_;
  std::vector<std::unique_ptr<NttTables>> ntt_;
  std::vector<double> level_scale_;
  std::vector<std::vector<u64>> inv_q_last_, inv_q_last_shoup_;
  std::vector<u64> inv_p_mod_q_, p_mod_q_, phat_inv_;
  std::vector<std::vector<u64>> phat_mod_q_;
  mutable std::mutex galois_mu_;
  mutable std::map<std::uint64_t, std::vector<std::uint32_t>> galois_cache_;
};

using ContextPtr = std::shared_ptr<const CkksContext>;

}  // namespace deepseek::security::ckks
