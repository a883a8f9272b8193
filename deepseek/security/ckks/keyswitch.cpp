#include "deepseek/security/ckks/keyswitch.h"

namespace deepseek::security::ckks {

void base_convert(const CkksContext& ctx, const u64* const* src, const std::vector<std::size_t>& src_idx,
                  u64* const* dst, const std::vector<std::size_t>& dst_idx) {
  const std::size_t n = ctx.n(), m = src_idx.size(), T = dst_idx.size();
  DS_CHECK(m <= 32, "[ckks] base conversion from more than 32 primes is not supported");
  // (Q/q_i)^{-1} mod q_i and (Q/q_i) mod t: tiny tables, rebuilt per call.
  std::vector<u64> qhat_inv(m), qhat_inv_shoup(m);
  for (std::size_t i = 0; i < m; ++i) {
    const Modulus& qi = ctx.modulus(src_idx[i]);
    u64 v = 1;
    for (std::size_t j = 0; j < m; ++j)
      if (j != i) v = mul_mod(v, ctx.modulus(src_idx[j]).value % qi.value, qi);
    qhat_inv[i] = inv_mod(v, qi);
    qhat_inv_shoup[i] = shoup_precompute(qhat_inv[i], qi.value);
  }
  std::vector<u64> qhat_mod(T * m);
  for (std::size_t t = 0; t < T; ++t) {
    const Modulus& pt = ctx.modulus(dst_idx[t]);
    for (std::size_t i = 0; i < m; ++i) {
      u64 v = 1;
      for (std::size_t j = 0; j < m; ++j)
        if (j != i) v = mul_mod(v, ctx.modulus(src_idx[j]).value % pt.value, pt);
      qhat_mod[t * m + i] = v;
    }
  }
  U64Vec tmp(m == 1 ? 0 : m * n);
#pragma omp parallel for if (m > 1 && m * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < (m == 1 ? 0 : m); ++i) {
    const u64 q = ctx.modulus(src_idx[i]).value;
    const u64* s = src[i];
    u64* d = tmp.data() + i * n;
    for (std::size_t x = 0; x < n; ++x) d[x] = mul_shoup(s[x], qhat_inv[i], qhat_inv_shoup[i], q);
  }
#pragma omp parallel for if (T * n >= 32768) schedule(static)
  for (std::size_t t = 0; t < T; ++t) {
    const Modulus& p = ctx.modulus(dst_idx[t]);
    const u64* w = qhat_mod.data() + t * m;
    u64* d = dst[t];
    if (m == 1) {
      // One source prime: (Q/q)^{-1} = 1, so y = x mod t.
      const u64* s = src[0];
      for (std::size_t x = 0; x < n; ++x) d[x] = barrett_reduce_64(s[x], p);
      continue;
    }
    for (std::size_t x = 0; x < n; ++x) {
      u128 acc = 0;
      for (std::size_t i = 0; i < m; ++i) acc += u128(tmp[i * n + x]) * w[i];
      d[x] = barrett_reduce_128(acc, p);
    }
  }
}

Decomposed decompose(const CkksContext& ctx, const RnsPoly& d, int level) {
  const std::size_t n = ctx.n(), limbs = std::size_t(level) + 1, K = ctx.num_special();
  DS_CHECK(d.limbs() == limbs, "[ckks] key switch: polynomial has ", d.limbs(), " limbs, level needs ", limbs);
  RnsPoly coef = d;
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) ctx.ntt(i).inverse(coef.limb(i));
  Decomposed out;
  out.level = level;
  const std::size_t digits = ctx.num_digits(level);
  out.digits.resize(digits);
  for (std::size_t j = 0; j < digits; ++j) {
    const std::size_t lo = ctx.digit_begin(j), hi = ctx.digit_end(j, level);
    RnsPoly& D = out.digits[j];
    D = RnsPoly(n, limbs + K);
    std::vector<std::size_t> src_idx, dst_idx, dst_pos;
    std::vector<const u64*> src;
    for (std::size_t i = lo; i < hi; ++i) {
      src_idx.push_back(i);
      src.push_back(coef.limb(i));
    }
    for (std::size_t i = 0; i < limbs; ++i)
      if (i < lo || i >= hi) {
        dst_idx.push_back(i);
        dst_pos.push_back(i);
      }
    for (std::size_t k = 0; k < K; ++k) {
      dst_idx.push_back(ctx.special_index(k));
      dst_pos.push_back(limbs + k);
    }
    std::vector<u64*> dst;
    for (std::size_t p : dst_pos) dst.push_back(D.limb(p));
    base_convert(ctx, src.data(), src_idx, dst.data(), dst_idx);
#pragma omp parallel for if (dst_idx.size() * n >= 32768) schedule(static)
    for (std::size_t t = 0; t < dst_idx.size(); ++t) ctx.ntt(dst_idx[t]).forward(dst[t]);
    // The digit's own primes: the residues are those of d itself, already in NTT form.
    for (std::size_t i = lo; i < hi; ++i) std::copy(d.limb(i), d.limb(i) + n, D.limb(i));
  }
  return out;
}

void mod_down(const CkksContext& ctx, RnsPoly& x, int level) {
  const std::size_t n = ctx.n(), limbs = std::size_t(level) + 1, K = ctx.num_special();
  DS_CHECK(x.limbs() == limbs + K, "[ckks] mod down: bad limb count");
  std::vector<std::size_t> src_idx, dst_idx;
  std::vector<const u64*> src;
  std::vector<u64*> dst;
  RnsPoly spec(n, K), conv(n, limbs);
  for (std::size_t k = 0; k < K; ++k) {
    std::copy(x.limb(limbs + k), x.limb(limbs + k) + n, spec.limb(k));
    src_idx.push_back(ctx.special_index(k));
    src.push_back(spec.limb(k));
  }
#pragma omp parallel for if (K * n >= 32768) schedule(static)
  for (std::size_t k = 0; k < K; ++k) ctx.ntt(ctx.special_index(k)).inverse(spec.limb(k));
  for (std::size_t i = 0; i < limbs; ++i) {
    dst_idx.push_back(i);
    dst.push_back(conv.limb(i));
  }
  base_convert(ctx, src.data(), src_idx, dst.data(), dst_idx);
#pragma omp parallel for if (limbs * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64 q = ctx.modulus(i).value;
    u64* c = conv.limb(i);
    ctx.ntt(i).forward(c);
    const u64 w = ctx.inv_p_mod_q(i), wp = shoup_precompute(w, q);
    u64* xi = x.limb(i);
    for (std::size_t t = 0; t < n; ++t) xi[t] = mul_shoup(xi[t] + q - c[t], w, wp, q);
  }
  x.truncate(limbs);
}

void key_switch(const CkksContext& ctx, const Decomposed& dec, const KeySwitchKey& key,
                const std::vector<std::uint32_t>* perm, RnsPoly& u0, RnsPoly& u1) {
  const int level = dec.level;
  const std::size_t n = ctx.n(), limbs = std::size_t(level) + 1, K = ctx.num_special();
  const std::size_t total = limbs + K, digits = dec.digits.size();
  DS_CHECK(key.context_id == ctx.id() && key.b.size() >= digits && key.a.size() >= digits,
           "[ckks] key switch: key does not match the parameter set");
  u0 = RnsPoly(n, total);
  u1 = RnsPoly(n, total);
#pragma omp parallel for if (total * n >= 32768) schedule(static)
  for (std::size_t pos = 0; pos < total; ++pos) {
    const std::size_t kidx = pos < limbs ? pos : ctx.num_data() + (pos - limbs);
    const Modulus& q = ctx.modulus(kidx);
    u64* o0 = u0.limb(pos);
    u64* o1 = u1.limb(pos);
    const u64* dg[64];
    const u64* kb[64];
    const u64* ka[64];
    for (std::size_t j = 0; j < digits; ++j) {
      dg[j] = dec.digits[j].limb(pos);
      kb[j] = key.b[j].limb(kidx);
      ka[j] = key.a[j].limb(kidx);
    }
    if (perm) {
      const std::uint32_t* pm = perm->data();
      for (std::size_t x = 0; x < n; ++x) {
        u128 a0 = 0, a1 = 0;
        const std::uint32_t px = pm[x];
        for (std::size_t j = 0; j < digits; ++j) {
          const u64 v = dg[j][px];
          a0 += u128(v) * kb[j][x];
          a1 += u128(v) * ka[j][x];
        }
        o0[x] = barrett_reduce_128(a0, q);
        o1[x] = barrett_reduce_128(a1, q);
      }
    } else {
      for (std::size_t x = 0; x < n; ++x) {
        u128 a0 = 0, a1 = 0;
        for (std::size_t j = 0; j < digits; ++j) {
          const u64 v = dg[j][x];
          a0 += u128(v) * kb[j][x];
          a1 += u128(v) * ka[j][x];
        }
        o0[x] = barrett_reduce_128(a0, q);
        o1[x] = barrett_reduce_128(a1, q);
      }
    }
  }
  mod_down(ctx, u0, level);
  mod_down(ctx, u1, level);
}

}  // namespace deepseek::security::ckks
