#include "deepseek/security/ckks/evaluator.h"

#include <algorithm>
#include <cmath>
#include <exception>

namespace deepseek::security::ckks {

namespace {
// Residue of an integral double of any magnitude.
u64 residue_of_integral(double x, const Modulus& q) {
  if (std::fabs(x) < 9.2e18) return reduce_signed(std::int64_t(x), q);
  int e;
  double fr = std::frexp(x, &e);
  std::int64_t mant = std::int64_t(std::ldexp(fr, 53));
  return mul_mod(reduce_signed(mant, q), pow_mod(2, u64(e - 53), q), q);
}
constexpr std::size_t kParallelMin = 32768;
}  // namespace

bool scales_match(double a, double b) {
  return std::fabs(a - b) <= std::ldexp(std::max(a, b), -40);
}

Evaluator::Evaluator(ContextPtr ctx, std::shared_ptr<const RelinKeys> relin,
                     std::shared_ptr<const GaloisKeys> galois)
    : ctx_(std::move(ctx)), encoder_(ctx_), relin_(std::move(relin)), galois_(std::move(galois)) {}

void Evaluator::check(const Ciphertext& a, const char* op) const {
  DS_CHECK(a.context_id == ctx_->id(), "[ckks] ", op,
           ": ciphertext belongs to another parameter set");
  DS_CHECK(a.level >= 0 && a.level <= ctx_->max_level(), "[ckks] ", op, ": bad level ", a.level);
  DS_CHECK(a.size() >= 2 && a.size() <= 3, "[ckks] ", op,
           ": ciphertext must have 2 or 3 parts, has ", a.size());
  DS_CHECK(a.scale > 0 && std::isfinite(a.scale), "[ckks] ", op, ": bad scale");
  for (const auto& p : a.parts)
    DS_CHECK(p.limbs() == std::size_t(a.level) + 1 && p.n() == ctx_->n(), "[ckks] ", op,
             ": malformed ciphertext");
}

void Evaluator::require_levels(const Ciphertext& a, int needed, const std::string& what) const {
  if (a.level < needed) throw DepthExhausted(needed, a.level, what);
}

// ---------------------------------------------------------------- level and scale management

void Evaluator::mod_switch_to_inplace(Ciphertext& a, int level) const {
  check(a, "mod_switch_to");
  DS_CHECK(level >= 0, "[ckks] mod_switch_to: bad target level ", level);
  if (level > a.level) throw DepthExhausted(level, a.level, "mod_switch_to (levels only go down)");
  for (auto& p : a.parts) p.truncate(std::size_t(level) + 1);
  a.level = level;
  // c1 keeps its seed: truncating limbs of the seeded expansion is still that expansion.
}

Ciphertext Evaluator::mod_switch_to(const Ciphertext& a, int level) const {
  Ciphertext r = a;
  mod_switch_to_inplace(r, level);
  return r;
}

void Evaluator::multiply_const_inplace(Ciphertext& a, double c) const {
  const std::size_t n = ctx_->n(), limbs = std::size_t(a.level) + 1;
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx_->modulus(i);
    const u64 w = residue_of_integral(c, q), wp = shoup_precompute(w, q.value);
    for (auto& p : a.parts) {
      u64* d = p.limb(i);
      for (std::size_t x = 0; x < n; ++x) d[x] = mul_shoup(d[x], w, wp, q.value);
    }
  }
  a.c1_seed.reset();
  a.scale *= c;
}

Ciphertext Evaluator::adjust_to(const Ciphertext& a, int level, double scale) const {
  check(a, "adjust_to");
  if (level == a.level) {
    DS_CHECK(scales_match(a.scale, scale), "[ckks] adjust_to: changing the scale needs one level");
    return a;
  }
  if (level > a.level) throw DepthExhausted(level, a.level, "adjust_to (levels only go down)");
  Ciphertext r = mod_switch_to(a, level + 1);
  const double q = double(ctx_->modulus(std::size_t(level) + 1).value);
  const double c = std::nearbyint(scale * q / r.scale);
  DS_CHECK(c >= 1 && std::isfinite(c), "[ckks] adjust_to: cannot reach scale ", scale, " from ",
           r.scale);
  multiply_const_inplace(r, c);
  rescale_inplace(r);
  r.scale = scale;  // off by at most 1/(2c) relative; c ~ q ~ 2^40 in every managed path
  return r;
}

void Evaluator::align(Ciphertext& a, Ciphertext& b) const {
  if (a.level > b.level) {
    a = adjust_to(a, b.level, b.scale);
  } else if (b.level > a.level) {
    b = adjust_to(b, a.level, a.scale);
  } else if (!scales_match(a.scale, b.scale)) {
    if (a.level == 0)
      throw DepthExhausted(1, 0, "bringing operands of different scales to a common scale");
    const double t = ctx_->level_scale(a.level - 1);
    a = adjust_to(a, a.level - 1, t);
    b = adjust_to(b, b.level - 1, t);
  }
}

// ------------------------------------------------------------------------------- additive

namespace {
// z = x ± y mod q over one limb (z may be x), branch-free so that the loop vectorizes: the
// sign bit of a result in (-q, q) selects the +q correction.
void add_sub_limb(u64* z, const u64* x, const u64* y, std::size_t n, u64 q, bool subtract) {
  if (subtract) {
#pragma omp simd
    for (std::size_t t = 0; t < n; ++t) {
      const u64 r = x[t] - y[t];
      z[t] = r + (q & (0 - (r >> 63)));
    }
  } else {
#pragma omp simd
    for (std::size_t t = 0; t < n; ++t) {
      const u64 r = x[t] + y[t] - q;
      z[t] = r + (q & (0 - (r >> 63)));
    }
  }
}
}  // namespace

void Evaluator::add_sub_inplace(Ciphertext& a, const Ciphertext& b_in, bool subtract) const {
  check(a, subtract ? "sub" : "add");
  check(b_in, subtract ? "sub" : "add");
  const Ciphertext* bp = &b_in;
  Ciphertext b_adj;
  if (a.level != b_in.level || !scales_match(a.scale, b_in.scale)) {
    b_adj = b_in;
    align(a, b_adj);
    bp = &b_adj;
  }
  const Ciphertext& b = *bp;
  const std::size_t n = ctx_->n(), limbs = std::size_t(a.level) + 1;
  const std::size_t parts = std::max(a.size(), b.size());
  while (a.parts.size() < parts) a.parts.emplace_back(n, limbs);
#pragma omp parallel for if (limbs * n * parts >= kParallelMin) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64 q = ctx_->modulus(i).value;
    for (std::size_t k = 0; k < b.size(); ++k) {
      add_sub_limb(a.parts[k].limb(i), a.parts[k].limb(i), b.parts[k].limb(i), n, q, subtract);
    }
  }
  a.c1_seed.reset();
}

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  add_sub_inplace(a, b, false);
}
void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  add_sub_inplace(a, b, true);
}
namespace {
// r = a ± b limb-wise for operands already at one level and scale (no copy of a first).
Ciphertext add_sub_fresh(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b,
                         bool subtract) {
  const std::size_t n = ctx.n(), limbs = std::size_t(a.level) + 1;
  const std::size_t parts = std::max(a.size(), b.size());
  Ciphertext r;
  r.level = a.level;
  r.scale = a.scale;
  r.context_id = a.context_id;
  r.parts.resize(parts);
  for (auto& p : r.parts) p = RnsPoly(n, limbs, Uninit{});
#pragma omp parallel for if (limbs * n * parts >= kParallelMin) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64 q = ctx.modulus(i).value;
    for (std::size_t k = 0; k < parts; ++k) {
      u64* z = r.parts[k].limb(i);
      const u64* x = k < a.size() ? a.parts[k].limb(i) : nullptr;
      const u64* y = k < b.size() ? b.parts[k].limb(i) : nullptr;
      if (x && y) {
        add_sub_limb(z, x, y, n, q, subtract);
      } else if (x) {
        std::copy(x, x + n, z);
      } else {
        for (std::size_t t = 0; t < n; ++t) z[t] = subtract ? neg_mod(y[t], q) : y[t];
      }
    }
  }
  return r;
}
}  // namespace

Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
  check(a, "add");
  check(b, "add");
  if (a.level == b.level && scales_match(a.scale, b.scale))
    return add_sub_fresh(*ctx_, a, b, false);
  Ciphertext r = a;
  add_inplace(r, b);
  return r;
}
Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
  check(a, "sub");
  check(b, "sub");
  if (a.level == b.level && scales_match(a.scale, b.scale)) return add_sub_fresh(*ctx_, a, b, true);
  Ciphertext r = a;
  sub_inplace(r, b);
  return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check(a, "negate");
  const std::size_t n = ctx_->n();
  for (auto& p : a.parts)
    for (std::size_t i = 0; i < p.limbs(); ++i) {
      const u64 q = ctx_->modulus(i).value;
      u64* x = p.limb(i);
      for (std::size_t t = 0; t < n; ++t) x[t] = neg_mod(x[t], q);
    }
  a.c1_seed.reset();
}

Ciphertext Evaluator::negate(const Ciphertext& a) const {
  Ciphertext r = a;
  negate_inplace(r);
  return r;
}

Ciphertext Evaluator::add_plain(const Ciphertext& a, const Plaintext& p) const {
  check(a, "add_plain");
  DS_CHECK(p.context_id == ctx_->id(),
           "[ckks] add_plain: plaintext belongs to another parameter set");
  DS_CHECK(p.level >= a.level && p.poly.limbs() == std::size_t(p.level) + 1,
           "[ckks] add_plain: plaintext level ", p.level, " is below the ciphertext's ", a.level);
  DS_CHECK(scales_match(a.scale, p.scale), "[ckks] add_plain: plaintext scale ", p.scale,
           " differs from the ciphertext's ", a.scale, " (encode at the ciphertext's scale)");
  Ciphertext r = a;
  const std::size_t n = ctx_->n();
  for (std::size_t i = 0; i <= std::size_t(a.level); ++i) {
    const u64 q = ctx_->modulus(i).value;
    u64* x = r.parts[0].limb(i);
    const u64* y = p.poly.limb(i);
    for (std::size_t t = 0; t < n; ++t) x[t] = add_mod(x[t], y[t], q);
  }
  return r;
}

Ciphertext Evaluator::add_scalar(const Ciphertext& a, double v) const {
  check(a, "add_scalar");
  Ciphertext r = a;
  const double c = std::nearbyint(v * a.scale);
  DS_CHECK(std::isfinite(c), "[ckks] add_scalar: value times scale is not finite");
  const std::size_t n = ctx_->n();
  for (std::size_t i = 0; i <= std::size_t(a.level); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const u64 w = residue_of_integral(c, q);  // a constant polynomial is w at every NTT point
    u64* x = r.parts[0].limb(i);
    for (std::size_t t = 0; t < n; ++t) x[t] = add_mod(x[t], w, q.value);
  }
  return r;
}

// ------------------------------------------------------------------------- multiplicative

Ciphertext Evaluator::multiply(const Ciphertext& a, const Ciphertext& b) const {
  check(a, "multiply");
  check(b, "multiply");
  DS_CHECK(a.size() == 2 && b.size() == 2, "[ckks] multiply: relinearize operands first");
  // The higher operand is mod-switched implicitly: its first limbs are those of the lower level.
  const int level = std::min(a.level, b.level);
  double log_q = 0;
  for (int i = 0; i <= level; ++i) log_q += std::log2(double(ctx_->modulus(i).value));
  DS_CHECK(std::log2(a.scale) + std::log2(b.scale) < log_q - 1, "[ckks] multiply: product scale 2^",
           std::log2(a.scale) + std::log2(b.scale), " would overflow the modulus (2^", log_q,
           ") at level ", level, "; rescale the operands first");
  const std::size_t n = ctx_->n(), limbs = std::size_t(level) + 1;
  Ciphertext r;
  r.level = level;
  r.scale = a.scale * b.scale;
  r.context_id = a.context_id;
  r.parts.resize(3);
  for (auto& p : r.parts) p = RnsPoly(n, limbs, Uninit{});
#pragma omp parallel for if (limbs * n >= kParallelMin / 4) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx_->modulus(i);
    u64 *c0 = r.parts[0].limb(i), *c1 = r.parts[1].limb(i), *c2 = r.parts[2].limb(i);
    const u64 *x0p = a.parts[0].limb(i), *x1p = a.parts[1].limb(i);
    const u64 *d0 = b.parts[0].limb(i), *d1 = b.parts[1].limb(i);
    for (std::size_t t = 0; t < n; ++t) {
      const u64 x0 = x0p[t], x1 = x1p[t], y0 = d0[t], y1 = d1[t];
      c0[t] = reduce_product(u128(x0) * y0, q);
      c1[t] = reduce_product(u128(x0) * y1 + u128(x1) * y0, q);
      c2[t] = reduce_product(u128(x1) * y1, q);
    }
  }
  return r;
}

void Evaluator::multiply_inplace(Ciphertext& a, const Ciphertext& b) const { a = multiply(a, b); }

Ciphertext Evaluator::multiply_plain(const Ciphertext& a, const Plaintext& p) const {
  check(a, "multiply_plain");
  DS_CHECK(p.context_id == ctx_->id(),
           "[ckks] multiply_plain: plaintext belongs to another parameter set");
  DS_CHECK(p.level >= a.level && p.poly.limbs() == std::size_t(p.level) + 1,
           "[ckks] multiply_plain: plaintext level ", p.level, " is below the ciphertext's ",
           a.level);
  Ciphertext r = a;
  const std::size_t n = ctx_->n(), limbs = std::size_t(a.level) + 1;
#pragma omp parallel for if (limbs * n >= kParallelMin / 2) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx_->modulus(i);
    const u64* m = p.poly.limb(i);
    for (auto& part : r.parts) {
      u64* x = part.limb(i);
      for (std::size_t t = 0; t < n; ++t) x[t] = reduce_product(u128(x[t]) * m[t], q);
    }
  }
  r.scale *= p.scale;
  r.c1_seed.reset();
  return r;
}

Ciphertext Evaluator::multiply_plain_sum(const std::vector<const Ciphertext*>& a,
                                         const std::vector<const Plaintext*>& p) const {
  DS_CHECK(!a.empty() && a.size() == p.size(),
           "[ckks] multiply_plain_sum: needs as many plaintexts as ciphertexts (", a.size(), " vs ",
           p.size(), "), at least one");
  DS_CHECK(a.size() <= 256,
           "[ckks] multiply_plain_sum: at most 256 terms (128-bit accumulation), got ", a.size());
  const Ciphertext& a0 = *a[0];
  for (std::size_t k = 0; k < a.size(); ++k) {
    check(*a[k], "multiply_plain_sum");
    DS_CHECK(a[k]->level == a0.level && a[k]->scale == a0.scale && a[k]->size() == a0.size(),
             "[ckks] multiply_plain_sum: ciphertexts must share level, scale and size");
    DS_CHECK(p[k]->context_id == ctx_->id(),
             "[ckks] multiply_plain_sum: plaintext belongs to another parameter set");
    DS_CHECK(p[k]->level >= a0.level && p[k]->poly.limbs() == std::size_t(p[k]->level) + 1 &&
                 p[k]->scale == p[0]->scale,
             "[ckks] multiply_plain_sum: plaintexts must share a scale and be at the ciphertexts' "
             "level or above");
  }
  const std::size_t n = ctx_->n(), limbs = std::size_t(a0.level) + 1, terms = a.size();
  Ciphertext r;
  r.level = a0.level;
  r.scale = a0.scale * p[0]->scale;
  r.context_id = a0.context_id;
  r.parts.resize(a0.size());
  for (auto& part : r.parts) part = RnsPoly(n, limbs, Uninit{});
#pragma omp parallel for if (limbs * n >= kParallelMin / 2) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx_->modulus(i);
    for (std::size_t s = 0; s < r.parts.size(); ++s) {
      u64* out = r.parts[s].limb(i);
      for (std::size_t t0 = 0; t0 < n; t0 += 256) {  // a block of coefficients stays in L1
        const std::size_t t1 = std::min(n, t0 + 256);
        u128 acc[256];
        for (std::size_t t = t0; t < t1; ++t) acc[t - t0] = 0;
        for (std::size_t k = 0; k < terms; ++k) {
          const u64* x = a[k]->parts[s].limb(i);
          const u64* m = p[k]->poly.limb(i);
          for (std::size_t t = t0; t < t1; ++t) acc[t - t0] += u128(x[t]) * m[t];
        }
        for (std::size_t t = t0; t < t1; ++t) out[t] = barrett_reduce_128(acc[t - t0], q);
      }
    }
  }
  return r;
}

Ciphertext Evaluator::multiply_int(const Ciphertext& a, std::int64_t k) const {
  check(a, "multiply_int");
  Ciphertext r = a;
  const double s = r.scale;
  multiply_const_inplace(r, double(k));
  r.scale = s;  // an integer factor is part of the value, not of the scale
  return r;
}

void Evaluator::relinearize_inplace(Ciphertext& a) const {
  check(a, "relinearize");
  if (a.size() == 2) return;
  DS_CHECK(relin_ != nullptr,
           "[ckks] relinearize: no relinearization keys were given to the evaluator");
  Decomposed dec = decompose(*ctx_, a.parts[2], a.level);
  RnsPoly u0, u1;
  // (c0, c1) + KeySwitch(c2), the addition fused into ModDown's last pass.
  key_switch(*ctx_, dec, relin_->key, nullptr, u0, u1, &a.parts[0], &a.parts[1]);
  a.parts.resize(2);
  a.parts[0] = std::move(u0);
  a.parts[1] = std::move(u1);
}

Ciphertext Evaluator::relinearize(const Ciphertext& a) const {
  check(a, "relinearize");
  if (a.size() == 2) return a;
  DS_CHECK(relin_ != nullptr,
           "[ckks] relinearize: no relinearization keys were given to the evaluator");
  Decomposed dec = decompose(*ctx_, a.parts[2], a.level);
  Ciphertext r;
  r.level = a.level;
  r.scale = a.scale;
  r.context_id = a.context_id;
  r.parts.resize(2);
  key_switch(*ctx_, dec, relin_->key, nullptr, r.parts[0], r.parts[1], &a.parts[0], &a.parts[1]);
  return r;
}

void Evaluator::rescale_inplace(Ciphertext& a) const {
  check(a, "rescale");
  if (a.level == 0) throw DepthExhausted(1, 0, "rescale");
  const std::size_t n = ctx_->n(), l = std::size_t(a.level);
  const Modulus& ql = ctx_->modulus(l);
  const u64 half = ql.value >> 1;
  for (auto& p : a.parts) {
    u64* last = p.limb(l);
    ctx_->ntt(l).inverse(last);
    // (x + q_l/2 - [x + q_l/2]_{q_l}) / q_l rounds x / q_l instead of flooring it.
    for (std::size_t t = 0; t < n; ++t) last[t] = add_mod(last[t], half, ql.value);
#pragma omp parallel for if (l * n >= kParallelMin / 2) schedule(static)
    for (std::size_t i = 0; i < l; ++i) {
      const Modulus& q = ctx_->modulus(i);
      U64Vec tmp(n);  // uninitialised: fully written below
      const u64 half_mod = barrett_reduce_64(half, q);
      for (std::size_t t = 0; t < n; ++t)
        tmp[t] = sub_mod(barrett_reduce_64(last[t], q), half_mod, q.value);
      ctx_->ntt(i).forward(tmp.data());
      const u64 w = ctx_->inv_q_last(int(l), i), wp = ctx_->inv_q_last_shoup(int(l), i);
      u64* x = p.limb(i);
      for (std::size_t t = 0; t < n; ++t) x[t] = mul_shoup(x[t] + q.value - tmp[t], w, wp, q.value);
    }
    p.truncate(l);
  }
  a.level -= 1;
  a.scale /= double(ql.value);
  a.c1_seed.reset();
}

Ciphertext Evaluator::rescale(const Ciphertext& a) const {
  Ciphertext r = a;
  rescale_inplace(r);
  return r;
}

Ciphertext Evaluator::mul(const Ciphertext& a_in, const Ciphertext& b_in) const {
  check(a_in, "mul");
  check(b_in, "mul");
  Ciphertext a = a_in.size() == 3 ? relinearize(a_in) : a_in;
  Ciphertext b = b_in.size() == 3 ? relinearize(b_in) : b_in;
  if (a.level != b.level) align(a, b);
  require_levels(a, 1, "mul");
  multiply_inplace(a, b);
  relinearize_inplace(a);
  rescale_inplace(a);
  return a;
}

Ciphertext Evaluator::square(const Ciphertext& a) const { return mul(a, a); }

Plaintext Evaluator::encode_for_mul(const Ciphertext& a, std::span<const double> values) const {
  check(a, "mul_plain");
  require_levels(a, 1, "mul_plain");
  const double target = ctx_->level_scale(a.level - 1);
  const double ps = target * double(ctx_->modulus(std::size_t(a.level)).value) / a.scale;
  return encoder_.encode(values, ps, a.level);
}

Ciphertext Evaluator::mul_plain_rescale(const Ciphertext& a, const Plaintext& p) const {
  require_levels(a, 1, "mul_plain");
  Ciphertext r = multiply_plain(a, p);
  rescale_inplace(r);
  if (a.level >= 1 && scales_match(r.scale, ctx_->level_scale(r.level)))
    r.scale = ctx_->level_scale(r.level);
  return r;
}

Ciphertext Evaluator::mul_plain(const Ciphertext& a, std::span<const double> values) const {
  return mul_plain_rescale(a, encode_for_mul(a, values));
}

Ciphertext Evaluator::mul_scalar(const Ciphertext& a, double v) const {
  check(a, "mul_scalar");
  require_levels(a, 1, "mul_scalar");
  const double target = ctx_->level_scale(a.level - 1);
  const double ps = target * double(ctx_->modulus(std::size_t(a.level)).value) / a.scale;
  Ciphertext r = a;
  multiply_const_inplace(r, std::nearbyint(v * ps));
  r.scale = a.scale * ps;
  rescale_inplace(r);
  r.scale = target;
  return r;
}

// ---------------------------------------------------------------------------------- Galois

bool Evaluator::has_rotation_key(int steps) const {
  return galois_ && galois_->has(ctx_->galois_element(steps));
}

const KeySwitchKey& Evaluator::galois_key(std::uint64_t g, int steps) const {
  DS_CHECK(galois_ != nullptr, "[ckks] rotate: no Galois keys were given to the evaluator");
  auto it = galois_->keys.find(g);
  DS_CHECK(it != galois_->keys.end(), "[ckks] rotate: no Galois key for ",
           steps == 0 ? std::string("conjugation") : "a rotation by " + std::to_string(steps),
           " (Galois element ", g, ")");
  return it->second;
}

Ciphertext Evaluator::apply_galois(const Ciphertext& a_in, std::uint64_t g) const {
  check(a_in, "rotate");
  const Ciphertext& a = a_in;
  DS_CHECK(a.size() == 2, "[ckks] rotate: relinearize first");
  const KeySwitchKey& key = galois_key(g, 0);
  const auto& perm = ctx_->galois_permutation(g);
  // One rotation: permute c1 before ModUp (15 limbs of gathers) rather than every digit in the
  // inner product (digits x 18 limbs of scattered reads); only hoisting needs the latter.
  const std::size_t n = ctx_->n(), limbs = std::size_t(a.level) + 1;
  RnsPoly c1(n, limbs, Uninit{});
  const std::uint32_t* pm = perm.data();
#pragma omp parallel for if (limbs * n >= kParallelMin) schedule(static)
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64* s = a.parts[1].limb(i);
    u64* d = c1.limb(i);
    for (std::size_t x = 0; x < n; ++x) d[x] = s[pm[x]];
  }
  Decomposed dec = decompose(*ctx_, c1, a.level);
  Ciphertext r;
  r.level = a.level;
  r.scale = a.scale;
  r.context_id = a.context_id;
  r.parts.resize(2);
  // σ_g(c0) + KeySwitch(σ_g(c1)), the addition fused into ModDown's last pass.
  key_switch(*ctx_, dec, key, nullptr, r.parts[0], r.parts[1], &a.parts[0], nullptr, &perm);
  return r;
}

Ciphertext Evaluator::rotate(const Ciphertext& a, int steps) const {
  const long long slots = (long long)ctx_->slots();
  long long r = steps % slots;
  if (r < 0) r += slots;
  if (r == 0) return a;
  const std::uint64_t g = ctx_->galois_element(int(r));
  if (galois_ && galois_->has(g)) return apply_galois(a, g);
  // Compose from power-of-two keys: right rotation by (slots - r) if that has fewer bits.
  const long long rr = slots - r;
  const bool use_right = __builtin_popcountll(rr) < __builtin_popcountll(r) && galois_ &&
                         galois_->has(ctx_->galois_element(-1));
  long long rem = use_right ? rr : r;
  Ciphertext cur = a;
  for (int bit = 0; rem; ++bit, rem >>= 1) {
    if (!(rem & 1)) continue;
    const int st = use_right ? -(1 << bit) : (1 << bit);
    const std::uint64_t gb = ctx_->galois_element(st);
    DS_CHECK(galois_ && galois_->has(gb), "[ckks] rotate: no Galois key for a rotation by ", steps,
             " and none for the power-of-two step ", st, " to compose it from");
    cur = apply_galois(cur, gb);
  }
  return cur;
}

void Evaluator::rotate_inplace(Ciphertext& a, int steps) const { a = rotate(a, steps); }

Ciphertext Evaluator::conjugate(const Ciphertext& a) const {
  check(a, "conjugate");
  DS_CHECK(galois_ && galois_->has(ctx_->conjugation_element()),
           "[ckks] conjugate: no conjugation key");
  return apply_galois(a, ctx_->conjugation_element());
}

std::vector<Ciphertext> Evaluator::rotate_hoisted(const Ciphertext& a,
                                                  const std::vector<int>& steps) const {
  check(a, "rotate_hoisted");
  DS_CHECK(a.size() == 2, "[ckks] rotate: relinearize first");
  std::vector<Ciphertext> out(steps.size());
  std::vector<std::size_t> todo;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const long long slots = (long long)ctx_->slots();
    long long r = steps[k] % slots;
    if (r < 0) r += slots;
    if (r == 0) {
      out[k] = a;
    } else {
      galois_key(ctx_->galois_element(steps[k]), steps[k]);  // fail early if a key is missing
      todo.push_back(k);
    }
  }
  if (todo.empty()) return out;
  Decomposed dec = decompose(*ctx_, a.parts[1], a.level);
  // One rotation per thread: coarse work items and a single barrier (the key switches' own
  // parallel regions, nested here, run serially).
  std::exception_ptr error;  // exceptions must not leave an OpenMP region
#pragma omp parallel for schedule(dynamic, 1) if (todo.size() > 1)
  for (std::size_t t = 0; t < todo.size(); ++t) {
    const std::size_t k = todo[t];
    try {
      const std::uint64_t g = ctx_->galois_element(steps[k]);
      const auto& perm = ctx_->galois_permutation(g);
      Ciphertext& r = out[k];
      r.level = a.level;
      r.scale = a.scale;
      r.context_id = a.context_id;
      r.parts.resize(2);
      key_switch(*ctx_, dec, galois_key(g, steps[k]), &perm, r.parts[0], r.parts[1], &a.parts[0],
                 nullptr, &perm);
    } catch (...) {
#pragma omp critical(ds_rotate_hoisted)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace deepseek::security::ckks
