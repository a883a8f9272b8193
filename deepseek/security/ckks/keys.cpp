#include "deepseek/security/ckks/keys.h"

namespace deepseek::security::ckks {

std::vector<std::size_t> q_indices(int level) {
  std::vector<std::size_t> v;
  for (int i = 0; i <= level; ++i) v.push_back(std::size_t(i));
  return v;
}

std::vector<std::size_t> qp_indices(const CkksContext& ctx, int level) {
  std::vector<std::size_t> v = q_indices(level);
  for (std::size_t k = 0; k < ctx.num_special(); ++k) v.push_back(ctx.special_index(k));
  return v;
}

void expand_uniform(const CkksContext& ctx, const Seed& seed, std::uint64_t domain,
                    std::uint64_t stream_base, RnsPoly& out, bool full_chain) {
  const std::size_t limbs = full_chain ? ctx.num_primes() : out.limbs();
  if (out.limbs() != limbs || out.n() != ctx.n()) out = RnsPoly(ctx.n(), limbs);
  const std::size_t n = ctx.n();
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    Prng prng(seed, domain, stream_base + i);
    const u64 q = ctx.modulus(i).value;
    u64* d = out.limb(i);
    for (std::size_t c = 0; c < n; ++c) d[c] = prng.uniform_mod(q);
  }
}

void small_to_ntt(const CkksContext& ctx, const std::int64_t* coeffs, RnsPoly& out,
                  const std::vector<std::size_t>& prime_idx) {
  const std::size_t n = ctx.n(), limbs = prime_idx.size();
  out = RnsPoly(n, limbs);
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(prime_idx[i]);
    u64* d = out.limb(i);
    for (std::size_t c = 0; c < n; ++c) d[c] = reduce_signed(coeffs[c], q);
    ctx.ntt(prime_idx[i]).forward(d);
  }
}

RnsPoly secret_from_seed(const CkksContext& ctx, const Seed& seed) {
  Prng prng(seed, kDomainSecret, 0);
  std::vector<std::int64_t> s(ctx.n());
  for (auto& v : s) v = prng.ternary();
  RnsPoly out;
  small_to_ntt(ctx, s.data(), out, qp_indices(ctx, ctx.max_level()));
  return out;
}

KeyGenerator::KeyGenerator(ContextPtr ctx) : KeyGenerator(ctx, random_seed()) {}

KeyGenerator::KeyGenerator(ContextPtr ctx, const Seed& secret_seed) : ctx_(std::move(ctx)) {
  DS_CHECK(ctx_ != nullptr, "[ckks] key generator needs a context");
  sk_.s = secret_from_seed(*ctx_, secret_seed);
  sk_.seed = secret_seed;
  sk_.context_id = ctx_->id();
}

KeyGenerator::KeyGenerator(ContextPtr ctx, SecretKey sk) : ctx_(std::move(ctx)), sk_(std::move(sk)) {
  DS_CHECK(ctx_ != nullptr, "[ckks] key generator needs a context");
  DS_CHECK(sk_.context_id == ctx_->id() && sk_.s.limbs() == ctx_->num_primes() && sk_.s.n() == ctx_->n(),
           "[ckks] secret key does not belong to this parameter set");
}

namespace {
std::vector<std::int64_t> sample_error(Prng& prng, std::size_t n) {
  std::vector<std::int64_t> e(n);
  for (auto& v : e) v = prng.gaussian();
  return e;
}
}  // namespace

PublicKey KeyGenerator::create_public_key() const {
  const CkksContext& c = *ctx_;
  PublicKey pk;
  pk.seed = random_seed();
  pk.context_id = c.id();
  expand_uniform(c, pk.seed, kDomainPublicA, 0, pk.a, true);
  Prng noise(random_seed(), kDomainNoise);
  auto e = sample_error(noise, c.n());
  small_to_ntt(c, e.data(), pk.b, qp_indices(c, c.max_level()));
  const std::size_t n = c.n();
  for (std::size_t i = 0; i < c.num_primes(); ++i) {
    const Modulus& q = c.modulus(i);
    u64* b = pk.b.limb(i);
    const u64 *a = pk.a.limb(i), *s = sk_.s.limb(i);
    for (std::size_t k = 0; k < n; ++k) b[k] = sub_mod(b[k], mul_mod(a[k], s[k], q), q.value);
  }
  return pk;
}

KeySwitchKey KeyGenerator::create_switch_key(const RnsPoly& from) const {
  const CkksContext& c = *ctx_;
  DS_CHECK(from.limbs() == c.num_primes(), "[ckks] switch key source must span all primes");
  KeySwitchKey k;
  k.seed = random_seed();
  k.context_id = c.id();
  const std::size_t digits = c.num_digits(c.max_level()), n = c.n(), P = c.num_primes();
  k.a.resize(digits);
  k.b.resize(digits);
  Prng noise(random_seed(), kDomainNoise);
  for (std::size_t j = 0; j < digits; ++j) {
    expand_uniform(c, k.seed, kDomainKeySwitchA, j * 64, k.a[j], true);
    auto e = sample_error(noise, n);
    small_to_ntt(c, e.data(), k.b[j], qp_indices(c, c.max_level()));
    const std::size_t lo = c.digit_begin(j), hi = c.digit_end(j, c.max_level());
#pragma omp parallel for if (P * n >= 32768) schedule(static)
    for (std::size_t i = 0; i < P; ++i) {
      const Modulus& q = c.modulus(i);
      u64* b = k.b[j].limb(i);
      const u64 *a = k.a[j].limb(i), *s = sk_.s.limb(i), *f = from.limb(i);
      const bool in_digit = i >= lo && i < hi;
      const u64 pm = in_digit ? c.p_mod_q(i) : 0;
      for (std::size_t x = 0; x < n; ++x) {
        u64 v = sub_mod(b[x], mul_mod(a[x], s[x], q), q.value);
        if (in_digit) v = add_mod(v, mul_mod(pm, f[x], q), q.value);
        b[x] = v;
      }
    }
  }
  return k;
}

RelinKeys KeyGenerator::create_relin_keys() const {
  const CkksContext& c = *ctx_;
  RnsPoly s2(c.n(), c.num_primes());
  for (std::size_t i = 0; i < c.num_primes(); ++i) {
    const Modulus& q = c.modulus(i);
    const u64* s = sk_.s.limb(i);
    u64* d = s2.limb(i);
    for (std::size_t x = 0; x < c.n(); ++x) d[x] = mul_mod(s[x], s[x], q);
  }
  return RelinKeys{create_switch_key(s2)};
}

GaloisKeys KeyGenerator::create_galois_keys(const std::vector<int>& steps, bool conjugate) const {
  const CkksContext& c = *ctx_;
  std::vector<std::uint64_t> elts;
  for (int st : steps) elts.push_back(c.galois_element(st));
  if (conjugate) elts.push_back(c.conjugation_element());
  GaloisKeys gk;
  for (std::uint64_t g : elts) {
    if (g == 1 || gk.has(g)) continue;
    // Key from s(X^g): the NTT-domain permutation of s.
    const auto& perm = c.galois_permutation(g);
    RnsPoly sg(c.n(), c.num_primes());
    for (std::size_t i = 0; i < c.num_primes(); ++i) {
      const u64* s = sk_.s.limb(i);
      u64* d = sg.limb(i);
      for (std::size_t x = 0; x < c.n(); ++x) d[x] = s[perm[x]];
    }
    gk.keys.emplace(g, create_switch_key(sg));
  }
  return gk;
}

GaloisKeys KeyGenerator::create_galois_keys() const {
  std::vector<int> steps;
  for (std::size_t s = 1; s < ctx_->slots(); s <<= 1) {
    steps.push_back(int(s));
    steps.push_back(-int(s));
  }
  return create_galois_keys(steps, true);
}

}  // namespace deepseek::security::ckks
