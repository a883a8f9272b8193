#include "deepseek/security/ckks/keyswitch.h"

#include <algorithm>

namespace deepseek::security::ckks {

namespace {

// dst[x] = Σ_a src[a][x] · w[a] mod p, for m source limbs whose residues are below 2^sbits and
// weights below p: the inner step of every fast basis conversion.
void convert_limb(std::size_t n, const u64* const* src, const u64* w, std::size_t m, int sbits,
                  const Modulus& p, u64* dst) {
  if (m == 1 && w[0] == 1) {
    const u64* s = src[0];
    for (std::size_t x = 0; x < n; ++x) dst[x] = barrett_reduce_64(s[x], p);
    return;
  }
  with_reducer(p, sum_bits(sbits, p.bits, m), [&](const auto& red) {
    if (m == 3) {
      const u64 *s0 = src[0], *s1 = src[1], *s2 = src[2];
      const u64 w0 = w[0], w1 = w[1], w2 = w[2];
      for (std::size_t x = 0; x < n; ++x)
        dst[x] = red.reduce(u128(s0[x]) * w0 + u128(s1[x]) * w1 + u128(s2[x]) * w2);
      return;
    }
    for (std::size_t x = 0; x < n; ++x) {
      u128 acc = 0;
      for (std::size_t a = 0; a < m; ++a) acc += u128(src[a][x]) * w[a];
      dst[x] = red.reduce(acc);
    }
  });
}

// Widest prime among idx: residues over these primes are below 2^result.
int max_bits(const CkksContext& ctx, const std::vector<std::size_t>& idx) {
  int b = 0;
  for (std::size_t i : idx) b = std::max(b, ctx.modulus(i).bits);
  return b;
}

}  // namespace

void base_convert(const CkksContext& ctx, const u64* const* src,
                  const std::vector<std::size_t>& src_idx, u64* const* dst,
                  const std::vector<std::size_t>& dst_idx) {
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
  U64Vec tmp(m * n);
  std::vector<const u64*> scaled(m);
#pragma omp parallel for if (m * n >= 32768) schedule(static)
  for (std::size_t i = 0; i < m; ++i) {
    const u64 q = ctx.modulus(src_idx[i]).value;
    const u64* s = src[i];
    u64* d = tmp.data() + i * n;
    for (std::size_t x = 0; x < n; ++x) d[x] = mul_shoup(s[x], qhat_inv[i], qhat_inv_shoup[i], q);
  }
  for (std::size_t i = 0; i < m; ++i) scaled[i] = tmp.data() + i * n;
  const int sbits = max_bits(ctx, src_idx);
#pragma omp parallel for if (T * n >= 32768) schedule(static)
  for (std::size_t t = 0; t < T; ++t)
    convert_limb(n, scaled.data(), qhat_mod.data() + t * m, m, sbits, ctx.modulus(dst_idx[t]),
                 dst[t]);
}

// Hybrid key switching in two passes with one barrier each (the old code opened ~25 small
// parallel regions per key switch; on a loaded 2-core machine every region end is a
// rendezvous that waits for the other thread to be scheduled, which made 2 threads slower
// than 1). Work items are whole limbs (one NTT each), handed out dynamically.
namespace {
constexpr std::size_t kKsParallelMin = 32768;
}

Decomposed decompose(const CkksContext& ctx, const RnsPoly& d, int level) {
  const std::size_t n = ctx.n(), limbs = std::size_t(level) + 1, K = ctx.num_special();
  DS_CHECK(d.limbs() == limbs, "[ckks] key switch: polynomial has ", d.limbs(),
           " limbs, level needs ", limbs);
  const std::size_t digits = ctx.num_digits(level), total = limbs + K;
  DS_CHECK(ctx.digit_width() <= 32,
           "[ckks] base conversion from more than 32 primes is not supported");
  // (Q_j/q_i)^{-1} mod q_i for every data prime i, Q_j the product of i's digit.
  std::vector<u64> qhat_inv(limbs), qhat_inv_shoup(limbs);
  for (std::size_t j = 0; j < digits; ++j) {
    const std::size_t lo = ctx.digit_begin(j), hi = ctx.digit_end(j, level);
    for (std::size_t i = lo; i < hi; ++i) {
      const Modulus& qi = ctx.modulus(i);
      u64 v = 1;
      for (std::size_t k = lo; k < hi; ++k)
        if (k != i) v = mul_mod(v, ctx.modulus(k).value % qi.value, qi);
      qhat_inv[i] = inv_mod(v, qi);
      qhat_inv_shoup[i] = shoup_precompute(qhat_inv[i], qi.value);
    }
  }
  // coef_i = INTT(d_i) * (Q_j/q_i)^{-1} mod q_i: the first step of every digit's conversion.
  RnsPoly coef(n, limbs, Uninit{});
  Decomposed out;
  out.level = level;
  out.digits.resize(digits);
  for (auto& D : out.digits) D = RnsPoly(n, total, Uninit{});
  const std::size_t items = digits * total;
#pragma omp parallel if (limbs * n >= kKsParallelMin)
  {
#pragma omp for schedule(dynamic, 1)
    for (std::size_t i = 0; i < limbs; ++i) {
      const u64 q = ctx.modulus(i).value;
      u64* c = coef.limb(i);
      std::copy(d.limb(i), d.limb(i) + n, c);
      ctx.ntt(i).inverse(c);
      if (qhat_inv[i] != 1) {
        const u64 w = qhat_inv[i], wp = qhat_inv_shoup[i];
        for (std::size_t x = 0; x < n; ++x) c[x] = mul_shoup(c[x], w, wp, q);
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (std::size_t it = 0; it < items; ++it) {
      const std::size_t j = it / total, pos = it % total;
      const std::size_t lo = ctx.digit_begin(j), hi = ctx.digit_end(j, level), m = hi - lo;
      u64* dst = out.digits[j].limb(pos);
      if (pos >= lo && pos < hi) {
        // The digit's own primes: the residues are those of d itself, already in NTT form.
        std::copy(d.limb(pos), d.limb(pos) + n, dst);
        continue;
      }
      const std::size_t pidx = pos < limbs ? pos : ctx.special_index(pos - limbs);
      const Modulus& p = ctx.modulus(pidx);
      u64 w[32];
      const u64* src[32];
      int sbits = 0;
      for (std::size_t a = 0; a < m; ++a) {
        u64 v = 1;
        for (std::size_t b = 0; b < m; ++b)
          if (b != a) v = mul_mod(v, ctx.modulus(lo + b).value % p.value, p);
        w[a] = v;
        src[a] = coef.limb(lo + a);
        sbits = std::max(sbits, ctx.modulus(lo + a).bits);
      }
      convert_limb(n, src, w, m, sbits, p, dst);
      ctx.ntt(pidx).forward(dst);
    }
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
                const std::vector<std::uint32_t>* perm, RnsPoly& u0, RnsPoly& u1,
                const RnsPoly* add0, const RnsPoly* add1,
                const std::vector<std::uint32_t>* add0_perm) {
  const int level = dec.level;
  const std::size_t n = ctx.n(), limbs = std::size_t(level) + 1, K = ctx.num_special();
  const std::size_t total = limbs + K, digits = dec.digits.size();
  DS_CHECK(key.context_id == ctx.id() && key.b.size() >= digits && key.a.size() >= digits,
           "[ckks] key switch: key does not match the parameter set");
  DS_CHECK(digits <= 64, "[ckks] key switch: too many digits");
  DS_CHECK(K <= 32, "[ckks] key switch: too many special primes");
  RnsPoly r0(n, total, Uninit{}), r1(n, total, Uninit{});
  const std::vector<u64>& phat_inv = ctx.phat_inv();
  int pbits = 0;
  for (std::size_t k = 0; k < K; ++k)
    pbits = std::max(pbits, ctx.modulus(ctx.special_index(k)).bits);
#pragma omp parallel if (total * n >= kKsParallelMin)
  {
    // Pass 1: inner product <digits, key> per limb (lazy: one 128-bit accumulator, one
    // reduction per output word); the special limbs go straight on to ModDown's first step,
    // INTT and multiplication by (P/p_k)^{-1}.
#pragma omp for schedule(dynamic, 1)
    for (std::size_t it = 0; it < 2 * total; ++it) {
      // Special limbs first: they carry the most work (an extra INTT), so they start early.
      const std::size_t half = it >> 1, pos = half < K ? limbs + half : half - K;
      const bool second = it & 1;
      const std::size_t kidx = pos < limbs ? pos : ctx.num_data() + (pos - limbs);
      const Modulus& q = ctx.modulus(kidx);
      u64* o = second ? r1.limb(pos) : r0.limb(pos);
      const u64* dg[64];
      const u64* kk[64];
      for (std::size_t j = 0; j < digits; ++j) {
        dg[j] = dec.digits[j].limb(pos);
        kk[j] = second ? key.a[j].limb(kidx) : key.b[j].limb(kidx);
      }
      with_reducer(q, sum_bits(q.bits, q.bits, digits), [&](const auto& red) {
        if (perm) {
          const std::uint32_t* pm = perm->data();
          for (std::size_t x = 0; x < n; ++x) {
            u128 acc = 0;
            const std::uint32_t px = pm[x];
            for (std::size_t j = 0; j < digits; ++j) acc += u128(dg[j][px]) * kk[j][x];
            o[x] = red.reduce(acc);
          }
        } else if (digits == 5) {
          for (std::size_t x = 0; x < n; ++x)
            o[x] = red.reduce(u128(dg[0][x]) * kk[0][x] + u128(dg[1][x]) * kk[1][x] +
                              u128(dg[2][x]) * kk[2][x] + u128(dg[3][x]) * kk[3][x] +
                              u128(dg[4][x]) * kk[4][x]);
        } else {
          for (std::size_t x = 0; x < n; ++x) {
            u128 acc = 0;
            for (std::size_t j = 0; j < digits; ++j) acc += u128(dg[j][x]) * kk[j][x];
            o[x] = red.reduce(acc);
          }
        }
      });
      if (pos >= limbs) {
        const std::size_t k = pos - limbs;
        ctx.ntt(kidx).inverse(o);
        if (phat_inv[k] != 1) {
          const u64 w = phat_inv[k], wp = shoup_precompute(w, q.value);
          for (std::size_t x = 0; x < n; ++x) o[x] = mul_shoup(o[x], w, wp, q.value);
        }
      }
    }
    // Pass 2: ModDown per data limb: x_i = (x_i - Conv_{P->q_i}(x_P)) * P^{-1}, then the
    // optional addition of the caller's polynomial (fused here to save a pass and a barrier).
    U64Vec conv(n);
#pragma omp for schedule(dynamic, 1)
    for (std::size_t it = 0; it < 2 * limbs; ++it) {
      const std::size_t i = it >> 1;
      const bool second = it & 1;
      RnsPoly& r = second ? r1 : r0;
      const Modulus& q = ctx.modulus(i);
      const std::vector<u64>& ph = ctx.phat_mod_q(i);
      u64* c = conv.data();
      const u64* src[32];
      for (std::size_t k = 0; k < K; ++k) src[k] = r.limb(limbs + k);
      convert_limb(n, src, ph.data(), K, pbits, q, c);
      ctx.ntt(i).forward(c);
      const u64 w = ctx.inv_p_mod_q(i), wp = shoup_precompute(w, q.value);
      u64* xi = r.limb(i);
      const RnsPoly* add = second ? add1 : add0;
      if (!add) {
        for (std::size_t t = 0; t < n; ++t)
          xi[t] = mul_shoup(xi[t] + q.value - c[t], w, wp, q.value);
      } else {
        const u64* y = add->limb(i);
        const std::vector<std::uint32_t>* ap = second ? nullptr : add0_perm;
        if (ap) {
          const std::uint32_t* pm = ap->data();
          for (std::size_t t = 0; t < n; ++t)
            xi[t] = add_mod(mul_shoup(xi[t] + q.value - c[t], w, wp, q.value), y[pm[t]], q.value);
        } else {
          for (std::size_t t = 0; t < n; ++t)
            xi[t] = add_mod(mul_shoup(xi[t] + q.value - c[t], w, wp, q.value), y[t], q.value);
        }
      }
    }
  }
  r0.truncate(limbs);
  r1.truncate(limbs);
  u0 = std::move(r0);
  u1 = std::move(r1);
}

}  // namespace deepseek::security::ckks
