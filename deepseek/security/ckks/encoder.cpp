#include "deepseek/security/ckks/encoder.h"

#include <cmath>

namespace deepseek::security::ckks {

namespace {
// std::complex's operator* checks for NaN/inf (a call to __muldc3); the FFT's operands are
// finite, so the textbook product is exact enough and several times faster.
inline std::complex<double> cmul(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}
}  // namespace

CkksEncoder::CkksEncoder(ContextPtr ctx) : ctx_(std::move(ctx)) {
  DS_CHECK(ctx_ != nullptr, "[ckks] encoder needs a context");
  n_ = ctx_->n();
  slots_ = n_ / 2;
  const std::size_t m = 2 * n_;
  rot_group_.resize(slots_);
  std::size_t g = 1;
  for (std::size_t j = 0; j < slots_; ++j) {
    rot_group_[j] = g;
    g = (g * 5) % m;
  }
  ksi_.resize(m + 1);
  for (std::size_t j = 0; j <= m; ++j) {
    long double a = 2.0L * 3.14159265358979323846264338327950288L * (long double)j / (long double)m;
    ksi_[j] = {double(std::cos(a)), double(std::sin(a))};
  }
  const int log_slots = __builtin_ctzll(slots_);
  bitrev_.resize(slots_);
  for (std::size_t i = 0; i < slots_; ++i) bitrev_[i] = bit_reverse(i, log_slots);
  const std::size_t L1 = ctx_->num_data();
  garner_.resize(L1);
  garner_shoup_.resize(L1);
  for (std::size_t i = 0; i < L1; ++i) {
    const Modulus& qi = ctx_->modulus(i);
    for (std::size_t j = 0; j < i; ++j) {
      u64 v = inv_mod(ctx_->modulus(j).value % qi.value, qi);
      garner_[i].push_back(v);
      garner_shoup_[i].push_back(shoup_precompute(v, qi.value));
    }
  }
}

void CkksEncoder::fft_special(std::complex<double>* v) const {
  const std::size_t size = slots_, m = 2 * n_;
  for (std::size_t i = 0; i < size; ++i)
    if (i < bitrev_[i]) std::swap(v[i], v[bitrev_[i]]);
  for (std::size_t len = 2; len <= size; len <<= 1) {
    const std::size_t lenh = len >> 1, lenq = len << 2, gap = m / lenq;
    for (std::size_t i = 0; i < size; i += len) {
      for (std::size_t j = 0; j < lenh; ++j) {
        std::size_t idx = (rot_group_[j] & (lenq - 1)) * gap;
        std::complex<double> u = v[i + j], w = cmul(v[i + j + lenh], ksi_[idx]);
        v[i + j] = u + w;
        v[i + j + lenh] = u - w;
      }
    }
  }
}

void CkksEncoder::fft_special_inv(std::complex<double>* v) const {
  const std::size_t size = slots_, m = 2 * n_;
  for (std::size_t len = size; len >= 2; len >>= 1) {
    const std::size_t lenh = len >> 1, lenq = len << 2, gap = m / lenq;
    for (std::size_t i = 0; i < size; i += len) {
      for (std::size_t j = 0; j < lenh; ++j) {
        std::size_t idx = (lenq - (rot_group_[j] & (lenq - 1))) * gap;
        std::complex<double> u = v[i + j] + v[i + j + lenh];
        std::complex<double> w = cmul(v[i + j] - v[i + j + lenh], ksi_[idx]);
        v[i + j] = u;
        v[i + j + lenh] = w;
      }
    }
  }
  for (std::size_t i = 0; i < size; ++i)
    if (i < bitrev_[i]) std::swap(v[i], v[bitrev_[i]]);
  const double inv = 1.0 / double(size);
  for (std::size_t i = 0; i < size; ++i) v[i] *= inv;
}

namespace {
// Residue of an integral double of any magnitude: x = m·2^e with |m| < 2^53.
inline u64 residue_of(double x, const Modulus& q) {
  if (std::fabs(x) < 9.2e18) return reduce_signed(std::int64_t(x), q);
  int e;
  double fr = std::frexp(x, &e);  // x = fr·2^e, 0.5 <= |fr| < 1
  std::int64_t mant = std::int64_t(std::ldexp(fr, 53));
  u64 r = reduce_signed(mant, q);
  return mul_mod(r, pow_mod(2, u64(e - 53), q), q);
}
}  // namespace

void CkksEncoder::coefficients_to_rns(const double* coeffs, RnsPoly& out, int level) const {
  const std::size_t limbs = std::size_t(level) + 1;
  out = RnsPoly(n_, limbs);
  bool big = false;
  for (std::size_t i = 0; i < n_; ++i) {
    DS_CHECK(std::isfinite(coeffs[i]), "[ckks] encode: value times scale is not finite");
    big |= std::fabs(coeffs[i]) >= 9.2e18;
  }
#pragma omp parallel for if (limbs * n_ >= 32768) schedule(static)
  for (std::size_t l = 0; l < limbs; ++l) {
    const Modulus& q = ctx_->modulus(l);
    u64* dst = out.limb(l);
    if (!big) {
      for (std::size_t i = 0; i < n_; ++i) dst[i] = reduce_signed(std::int64_t(coeffs[i]), q);
    } else {
      for (std::size_t i = 0; i < n_; ++i) dst[i] = residue_of(coeffs[i], q);
    }
    ctx_->ntt(l).forward(dst);
  }
}

Plaintext CkksEncoder::encode(std::span<const std::complex<double>> values, double scale, int level) const {
  if (level < 0) level = ctx_->max_level();
  DS_CHECK(level <= ctx_->max_level(), "[ckks] encode: level ", level, " above max ", ctx_->max_level());
  if (scale <= 0) scale = ctx_->level_scale(level);
  DS_CHECK(values.size() <= slots_, "[ckks] encode: ", values.size(), " values exceed the ", slots_, " slots");
  DS_CHECK(std::isfinite(scale) && scale >= 1, "[ckks] encode: bad scale ", scale);
  std::vector<std::complex<double>> u(slots_);
  for (std::size_t i = 0; i < values.size(); ++i) u[i] = values[i];
  fft_special_inv(u.data());
  std::vector<double> coeffs(n_);
  for (std::size_t i = 0; i < slots_; ++i) {
    coeffs[i] = std::nearbyint(u[i].real() * scale);
    coeffs[i + slots_] = std::nearbyint(u[i].imag() * scale);
  }
  Plaintext pt;
  coefficients_to_rns(coeffs.data(), pt.poly, level);
  pt.level = level;
  pt.scale = scale;
  pt.context_id = ctx_->id();
  return pt;
}

Plaintext CkksEncoder::encode(std::span<const double> values, double scale, int level) const {
  std::vector<std::complex<double>> c(values.begin(), values.end());
  return encode(std::span<const std::complex<double>>(c), scale, level);
}

Plaintext CkksEncoder::encode_constant(double value, double scale, int level) const {
  if (level < 0) level = ctx_->max_level();
  DS_CHECK(level <= ctx_->max_level(), "[ckks] encode: level ", level, " above max ", ctx_->max_level());
  if (scale <= 0) scale = ctx_->level_scale(level);
  double c = std::nearbyint(value * scale);
  DS_CHECK(std::isfinite(c), "[ckks] encode: value times scale is not finite");
  Plaintext pt;
  pt.poly = RnsPoly(n_, std::size_t(level) + 1);
  for (int l = 0; l <= level; ++l) {
    u64 r = residue_of(c, ctx_->modulus(l));
    u64* d = pt.poly.limb(l);
    for (std::size_t i = 0; i < n_; ++i) d[i] = r;  // constant poly: same value at every root
  }
  pt.level = level;
  pt.scale = scale;
  pt.context_id = ctx_->id();
  return pt;
}

std::vector<long double> CkksEncoder::rns_to_coefficients(const RnsPoly& ntt_poly, int level) const {
  const std::size_t limbs = std::size_t(level) + 1;
  DS_CHECK(ntt_poly.limbs() == limbs && ntt_poly.n() == n_, "[ckks] decode: polynomial shape mismatch");
  RnsPoly p = ntt_poly;
#pragma omp parallel for if (limbs * n_ >= 32768) schedule(static)
  for (std::size_t l = 0; l < limbs; ++l) ctx_->ntt(l).inverse(p.limb(l));
  // Prefix products q_0·…·q_{i-1} as long doubles.
  std::vector<long double> prefix(limbs);
  long double acc = 1;
  for (std::size_t i = 0; i < limbs; ++i) {
    prefix[i] = acc;
    acc *= (long double)ctx_->modulus(i).value;
  }
  std::vector<long double> out(n_);
#pragma omp parallel for if (limbs * n_ >= 65536) schedule(static)
  for (std::size_t c = 0; c < n_; ++c) {
    u64 v[64];
    for (std::size_t i = 0; i < limbs; ++i) {
      const u64 qi = ctx_->modulus(i).value;
      u64 x = p.limb(i)[c];
      for (std::size_t j = 0; j < i; ++j) {
        // x = (x - v_j) · q_j^{-1} mod q_i
        u64 vj = barrett_reduce_64(v[j], ctx_->modulus(i));
        x = mul_shoup(sub_mod(x, vj, qi), garner_[i][j], garner_shoup_[i][j], qi);
      }
      v[i] = x;
    }
    const u64 qt = ctx_->modulus(limbs - 1).value;
    long double val = 0;
    if (v[limbs - 1] > (qt - 1) / 2) {
      // Negative: x - Q = -((Q - 1 - x) + 1), whose digits are q_i - 1 - v_i.
      for (std::size_t i = limbs; i-- > 0;) val += (long double)(ctx_->modulus(i).value - 1 - v[i]) * prefix[i];
      val = -(val + 1);
    } else {
      for (std::size_t i = limbs; i-- > 0;) val += (long double)v[i] * prefix[i];
    }
    out[c] = val;
  }
  return out;
}

std::vector<std::complex<double>> CkksEncoder::decode_complex(const Plaintext& pt) const {
  DS_CHECK(pt.context_id == ctx_->id(), "[ckks] decode: plaintext belongs to another parameter set");
  DS_CHECK(pt.level >= 0 && pt.level <= ctx_->max_level(), "[ckks] decode: bad level ", pt.level);
  DS_CHECK(pt.scale > 0 && std::isfinite(pt.scale), "[ckks] decode: bad scale");
  std::vector<long double> c = rns_to_coefficients(pt.poly, pt.level);
  std::vector<std::complex<double>> u(slots_);
  const long double inv = 1.0L / (long double)pt.scale;
  for (std::size_t i = 0; i < slots_; ++i) u[i] = {double(c[i] * inv), double(c[i + slots_] * inv)};
  fft_special(u.data());
  return u;
}

std::vector<double> CkksEncoder::decode(const Plaintext& pt) const {
  auto c = decode_complex(pt);
  std::vector<double> r(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) r[i] = c[i].real();
  return r;
}

}  // namespace deepseek::security::ckks
