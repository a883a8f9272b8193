#include "deepseek/security/ckks/context.h"

#include <cmath>

#include "deepseek/security/ckks/primes.h"

namespace deepseek::security::ckks {

std::shared_ptr<const CkksContext> CkksContext::create(const CkksParameters& params) {
  params.validate();
  std::shared_ptr<CkksContext> c(new CkksContext());
  c->params_ = params;
  c->n_ = params.poly_degree;
  c->num_data_ = params.data_bits.size();
  c->num_special_ = params.special_bits.size();
  const std::size_t L1 = c->num_data_, K = c->num_special_;
  // Special primes: the largest below 2^bits.
  std::vector<u64> special = generate_ntt_primes(params.special_bits, c->n_);
  // Scale primes q_L..q_1, top down: with s_L = Δ and s_{l-1} = s_l^2 / q_l, picking q_l
  // nearest to s_l^2/Δ (above or below 2^bits) keeps every level's scale within ~2^-18 of Δ;
  // primes all below Δ would make the drift double at every level.
  std::vector<u64> used = special, data(L1, 0);
  const double delta = params.scale;
  double s = delta, excess_bits = 0;
  for (std::size_t l = L1; l-- > 1;) {
    const int b = params.data_bits[l];
    const u64 lo = u64(1) << (b - 1), hi = u64(1) << b;
    double target = s * (s / delta);
    u64 q = 0;
    if (std::fabs(std::log2(target) - b) < 0.5) {
      q = nearest_ntt_prime(target, c->n_, used, lo, hi + (hi >> 8));
    }
    if (q == 0) q = nearest_ntt_prime(double(hi), c->n_, used, lo, hi);
    DS_CHECK(q != 0, "[ckks] ran out of ", b, "-bit NTT primes for N = ", c->n_);
    if (q > hi) excess_bits += std::log2(double(q)) - b;
    used.push_back(q);
    data[l] = q;
    s = s * (s / double(q));
  }
  // q_0 absorbs any excess of scale primes above 2^bits, so log QP stays within the bound.
  {
    const int b = params.data_bits[0];
    const double cap = std::ldexp(1.0, b) * std::exp2(-excess_bits) * (1 - 1e-12);
    data[0] = nearest_ntt_prime(cap, c->n_, used, u64(1) << (b - 1), u64(std::floor(cap)));
    DS_CHECK(data[0] != 0, "[ckks] no ", b, "-bit NTT prime for q_0 at N = ", c->n_);
  }
  std::vector<u64> primes = data;
  primes.insert(primes.end(), special.begin(), special.end());
  c->level_scale_.resize(L1);
  s = delta;
  for (std::size_t l = L1; l-- > 0;) {
    c->level_scale_[l] = s;
    if (l > 0) s = s * (s / double(primes[l]));
  }
  for (u64 q : primes) {
    DS_CHECK(is_prime(q) && (q - 1) % (2 * c->n_) == 0, "[ckks] internal: bad prime ", q);
    c->moduli_.emplace_back(q);
  }
  DS_CHECK(c->log_qp() <= max_log_qp_128(c->n_) + 1e-9, "[ckks] internal: generated chain (log QP = ", c->log_qp(),
           ") exceeds the security bound");
  c->ntt_.resize(primes.size());
  for (std::size_t i = 0; i < primes.size(); ++i) c->ntt_[i] = std::make_unique<NttTables>(c->n_, c->moduli_[i]);

  c->inv_q_last_.resize(L1);
  c->inv_q_last_shoup_.resize(L1);
  for (std::size_t l = 1; l < L1; ++l) {
    for (std::size_t i = 0; i < l; ++i) {
      u64 v = inv_mod(primes[l] % primes[i], c->moduli_[i]);
      c->inv_q_last_[l].push_back(v);
      c->inv_q_last_shoup_[l].push_back(shoup_precompute(v, primes[i]));
    }
  }
  // P = prod p_k.
  for (std::size_t i = 0; i < L1; ++i) {
    const Modulus& q = c->moduli_[i];
    u64 pm = 1;
    for (std::size_t k = 0; k < K; ++k) pm = mul_mod(pm, primes[L1 + k] % q.value, q);
    c->p_mod_q_.push_back(pm);
    c->inv_p_mod_q_.push_back(inv_mod(pm, q));
    std::vector<u64> ph;
    for (std::size_t k = 0; k < K; ++k) {
      u64 v = 1;
      for (std::size_t m = 0; m < K; ++m)
        if (m != k) v = mul_mod(v, primes[L1 + m] % q.value, q);
      ph.push_back(v);
    }
    c->phat_mod_q_.push_back(ph);
  }
  for (std::size_t k = 0; k < K; ++k) {
    const Modulus& p = c->moduli_[L1 + k];
    u64 v = 1;
    for (std::size_t m = 0; m < K; ++m)
      if (m != k) v = mul_mod(v, primes[L1 + m] % p.value, p);
    c->phat_inv_.push_back(inv_mod(v, p));
  }
  // FNV-1a over N, the primes and the split; the scale is not part of what objects depend on.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(c->n_);
  mix(L1);
  mix(K);
  for (u64 q : primes) mix(q);
  c->id_ = h;
  return c;
}

double CkksContext::log_qp() const {
  double s = 0;
  for (const auto& m : moduli_) s += std::log2(double(m.value));
  return s;
}

std::uint64_t CkksContext::galois_element(int steps) const {
  const std::uint64_t m = 2 * n_, half = n_ / 2;
  long long r = steps % (long long)half;
  if (r < 0) r += half;
  std::uint64_t g = 1;
  for (long long i = 0; i < r; ++i) g = (g * 5) % m;
  return g;
}

const std::vector<std::uint32_t>& CkksContext::galois_permutation(std::uint64_t g) const {
  DS_CHECK((g & 1) && g < 2 * n_, "[ckks] Galois element must be odd and below 2N, got ", g);
  std::lock_guard<std::mutex> lock(galois_mu_);
  auto it = galois_cache_.find(g);
  if (it != galois_cache_.end()) return it->second;
  const int log_n = __builtin_ctzll(n_);
  const std::uint64_t mask = 2 * n_ - 1;
  std::vector<std::uint32_t> perm(n_);
  for (std::size_t k = 0; k < n_; ++k) {
    std::uint64_t e = 2 * bit_reverse(k, log_n) + 1;
    std::uint64_t e2 = (e * g) & mask;
    perm[k] = std::uint32_t(bit_reverse((e2 - 1) >> 1, log_n));
  }
  return galois_cache_.emplace(g, std::move(perm)).first->second;
}

}  // namespace deepseek::security::ckks
