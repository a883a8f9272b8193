#include "deepseek/security/ckks/encryptor.h"

#include <cmath>

namespace deepseek::security::ckks {

Encryptor::Encryptor(ContextPtr ctx, PublicKey pk) : ctx_(std::move(ctx)), pk_(std::move(pk)) {
  DS_CHECK(ctx_ && pk_->context_id == ctx_->id() && pk_->b.limbs() == ctx_->num_primes(),
           "[ckks] public key does not belong to this parameter set");
}

Encryptor::Encryptor(ContextPtr ctx, SecretKey sk) : ctx_(std::move(ctx)), sk_(std::move(sk)) {
  DS_CHECK(ctx_ && sk_->context_id == ctx_->id() && sk_->s.limbs() == ctx_->num_primes(),
           "[ckks] secret key does not belong to this parameter set");
}

Ciphertext Encryptor::encrypt_zero(int level, double scale) const {
  const CkksContext& c = *ctx_;
  DS_CHECK(level >= 0 && level <= c.max_level(), "[ckks] encrypt: bad level ", level);
  const std::size_t n = c.n(), limbs = std::size_t(level) + 1;
  const auto idx = q_indices(level);
  Ciphertext ct;
  ct.level = level;
  ct.scale = scale;
  ct.context_id = c.id();
  ct.parts.resize(2);
  Prng noise(random_seed(), kDomainNoise);
  if (pk_) {
    std::vector<std::int64_t> u(n), e0(n), e1(n);
    for (auto& v : u) v = noise.ternary();
    for (auto& v : e0) v = noise.gaussian();
    for (auto& v : e1) v = noise.gaussian();
    RnsPoly U;
    small_to_ntt(c, u.data(), U, idx);
    small_to_ntt(c, e0.data(), ct.parts[0], idx);
    small_to_ntt(c, e1.data(), ct.parts[1], idx);
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
    for (std::size_t i = 0; i < limbs; ++i) {
      const Modulus& q = c.modulus(i);
      const u64 *b = pk_->b.limb(i), *a = pk_->a.limb(i), *uu = U.limb(i);
      u64 *c0 = ct.parts[0].limb(i), *c1 = ct.parts[1].limb(i);
      for (std::size_t x = 0; x < n; ++x) {
        c0[x] = add_mod(c0[x], mul_mod(b[x], uu[x], q), q.value);
        c1[x] = add_mod(c1[x], mul_mod(a[x], uu[x], q), q.value);
      }
    }
  } else {
    Seed seed = random_seed();
    ct.parts[1] = RnsPoly(n, limbs);
    expand_uniform(c, seed, kDomainSymmetricA, 0, ct.parts[1], false);
    ct.c1_seed = seed;
    std::vector<std::int64_t> e(n);
    for (auto& v : e) v = noise.gaussian();
    small_to_ntt(c, e.data(), ct.parts[0], idx);
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
    for (std::size_t i = 0; i < limbs; ++i) {
      const Modulus& q = c.modulus(i);
      const u64 *a = ct.parts[1].limb(i), *s = sk_->s.limb(i);
      u64* c0 = ct.parts[0].limb(i);
      for (std::size_t x = 0; x < n; ++x) c0[x] = sub_mod(c0[x], mul_mod(a[x], s[x], q), q.value);
    }
  }
  return ct;
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) const {
  DS_CHECK(pt.context_id == ctx_->id(), "[ckks] encrypt: plaintext belongs to another parameter set");
  DS_CHECK(pt.level >= 0 && pt.level <= ctx_->max_level() && pt.poly.limbs() == std::size_t(pt.level) + 1,
           "[ckks] encrypt: malformed plaintext");
  Ciphertext ct = encrypt_zero(pt.level, pt.scale);
  const std::size_t n = ctx_->n(), limbs = pt.poly.limbs();
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64 q = ctx_->modulus(i).value;
    u64* c0 = ct.parts[0].limb(i);
    const u64* m = pt.poly.limb(i);
    for (std::size_t x = 0; x < n; ++x) c0[x] = add_mod(c0[x], m[x], q);
  }
  return ct;
}

Decryptor::Decryptor(ContextPtr ctx, SecretKey sk) : ctx_(std::move(ctx)), sk_(std::move(sk)) {
  DS_CHECK(ctx_ && sk_.context_id == ctx_->id() && sk_.s.limbs() == ctx_->num_primes(),
           "[ckks] secret key does not belong to this parameter set");
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  const CkksContext& c = *ctx_;
  DS_CHECK(ct.context_id == c.id(), "[ckks] decrypt: ciphertext belongs to another parameter set");
  DS_CHECK(ct.level >= 0 && ct.level <= c.max_level(), "[ckks] decrypt: bad level ", ct.level);
  DS_CHECK(ct.size() >= 2 && ct.size() <= 3, "[ckks] decrypt: ciphertext must have 2 or 3 parts");
  const std::size_t n = c.n(), limbs = std::size_t(ct.level) + 1;
  for (const auto& p : ct.parts) DS_CHECK(p.limbs() == limbs && p.n() == n, "[ckks] decrypt: malformed ciphertext");
  Plaintext pt;
  pt.level = ct.level;
  pt.scale = ct.scale;
  pt.context_id = c.id();
  pt.poly = RnsPoly(n, limbs);
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = c.modulus(i);
    const u64 *c0 = ct.parts[0].limb(i), *c1 = ct.parts[1].limb(i), *s = sk_.s.limb(i);
    u64* m = pt.poly.limb(i);
    if (ct.size() == 2) {
      for (std::size_t x = 0; x < n; ++x) m[x] = add_mod(c0[x], mul_mod(c1[x], s[x], q), q.value);
    } else {
      const u64* c2 = ct.parts[2].limb(i);
      for (std::size_t x = 0; x < n; ++x) {
        u64 s2 = mul_mod(s[x], s[x], q);
        m[x] = add_mod(add_mod(c0[x], mul_mod(c1[x], s[x], q), q.value), mul_mod(c2[x], s2, q), q.value);
      }
    }
  }
  return pt;
}

}  // namespace deepseek::security::ckks
