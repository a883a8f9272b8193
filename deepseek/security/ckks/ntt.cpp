#include "deepseek/security/ckks/ntt.h"

#include <atomic>

#include "deepseek/security/ckks/primes.h"

namespace deepseek::security::ckks {

// Defined in ntt_avx512.cpp, compiled with target attributes; only called when the CPU has it.
void ntt_forward_ifma(const NttTables& t, u64* a);
void ntt_inverse_ifma(const NttTables& t, u64* a);
// Defined in ntt_avx2.cpp, likewise.
void ntt_forward_avx2(const NttTables& t, u64* a);
void ntt_inverse_avx2(const NttTables& t, u64* a);

namespace {
std::atomic<bool> g_force_scalar{false};
}

std::size_t bit_reverse(std::size_t x, int bits) {
  std::size_t r = 0;
  for (int i = 0; i < bits; ++i) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}

bool cpu_has_avx512_ifma() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
#else
  return false;
#endif
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

std::string ntt_backend() {
  if (g_force_scalar.load()) return "scalar";
  if (cpu_has_avx512_ifma()) return "avx512ifma";
  return cpu_has_avx2_fma() ? "avx2fma" : "scalar";
}

void set_ntt_force_scalar(bool force) { g_force_scalar.store(force); }

NttTables::NttTables(std::size_t n, const Modulus& q) : n_(n), q_(q) {
  DS_CHECK(n >= 8 && (n & (n - 1)) == 0, "[ckks] NTT size must be a power of two >= 8, got ", n);
  log_n_ = __builtin_ctzll(n);
  psi_ = minimal_primitive_root(2 * n, q);
  u64 psi_inv = inv_mod(psi_, q);
  psi_rev_.resize(n);
  ipsi_rev_.resize(n);
  u64 p = 1, pi = 1;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t r = bit_reverse(i, log_n_);
    psi_rev_[r] = p;
    ipsi_rev_[r] = pi;
    p = mul_mod(p, psi_, q);
    pi = mul_mod(pi, psi_inv, q);
  }
  psi_rev_shoup_.resize(n);
  ipsi_rev_shoup_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    psi_rev_shoup_[i] = shoup_precompute(psi_rev_[i], q.value);
    ipsi_rev_shoup_[i] = shoup_precompute(ipsi_rev_[i], q.value);
  }
  n_inv_ = inv_mod(n % q.value, q);
  n_inv_shoup_ = shoup_precompute(n_inv_, q.value);
  // The last inverse layer multiplies by its twiddle and by 1/N at once.
  last_w_ = mul_mod(ipsi_rev_[1], n_inv_, q);
  last_w_shoup_ = shoup_precompute(last_w_, q.value);
  use_ifma_ = cpu_has_avx512_ifma() && q.value < (u64(1) << 50);
  if (use_ifma_) {
    auto s52 = [&](u64 w) { return u64((u128(w) << 52) / q.value); };
    psi_rev_shoup52_.resize(n);
    ipsi_rev_shoup52_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      psi_rev_shoup52_[i] = s52(psi_rev_[i]);
      ipsi_rev_shoup52_[i] = s52(ipsi_rev_[i]);
    }
    n_inv_shoup52_ = s52(n_inv_);
    last_w_shoup52_ = s52(last_w_);
  }
  use_avx2_ = !use_ifma_ && cpu_has_avx2_fma() && q.value < (u64(1) << 52);
  if (use_avx2_) {
    const double qd = double(q.value);
    auto to_d = [&](const std::vector<u64>& w, std::vector<double>& d, std::vector<double>& wq) {
      d.resize(n);
      wq.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        d[i] = double(w[i]);
        wq[i] = d[i] / qd;
      }
    };
    to_d(psi_rev_, psi_rev_d_, psi_rev_wq_);
    to_d(ipsi_rev_, ipsi_rev_d_, ipsi_rev_wq_);
    n_inv_d_ = double(n_inv_);
    n_inv_wq_ = n_inv_d_ / qd;
    last_w_d_ = double(last_w_);
    last_w_wq_ = last_w_d_ / qd;
  }
}

void NttTables::forward(u64* a) const {
  if (!g_force_scalar.load(std::memory_order_relaxed)) {
    if (use_ifma_) return ntt_forward_ifma(*this, a);
    if (use_avx2_) return ntt_forward_avx2(*this, a);
  }
  forward_scalar(a);
}

void NttTables::inverse(u64* a) const {
  if (!g_force_scalar.load(std::memory_order_relaxed)) {
    if (use_ifma_) return ntt_inverse_ifma(*this, a);
    if (use_avx2_) return ntt_inverse_avx2(*this, a);
  }
  inverse_scalar(a);
}

void NttTables::forward_scalar(u64* a) const {
  const u64 q = q_.value, two_q = 2 * q;
  const std::size_t n = n_;
  std::size_t t = n;
  for (std::size_t m = 1; m < n; m <<= 1) {
    t >>= 1;
    if (t >= 4) {
      for (std::size_t i = 0; i < m; ++i) {
        const u64 w = psi_rev_[m + i], wp = psi_rev_shoup_[m + i];
        u64* x = a + 2 * i * t;
        u64* y = x + t;
        for (std::size_t j = 0; j < t; j += 4) {
#define DS_FWD_BFLY(k)                          \
  {                                             \
    u64 X = x[j + k];                           \
    X -= (X >= two_q) ? two_q : 0;              \
    u64 T = mul_shoup_lazy(y[j + k], w, wp, q); \
    x[j + k] = X + T;                           \
    y[j + k] = X - T + two_q;                   \
  }
          DS_FWD_BFLY(0) DS_FWD_BFLY(1) DS_FWD_BFLY(2) DS_FWD_BFLY(3)
        }
      }
    } else {
      for (std::size_t i = 0; i < m; ++i) {
        const u64 w = psi_rev_[m + i], wp = psi_rev_shoup_[m + i];
        u64* x = a + 2 * i * t;
        u64* y = x + t;
        for (std::size_t j = 0; j < t; ++j) DS_FWD_BFLY(0)
      }
    }
  }
#undef DS_FWD_BFLY
  for (std::size_t i = 0; i < n; ++i) {
    u64 v = a[i];
    v -= (v >= two_q) ? two_q : 0;
    v -= (v >= q) ? q : 0;
    a[i] = v;
  }
}

void NttTables::inverse_scalar(u64* a) const {
  const u64 q = q_.value, two_q = 2 * q;
  const std::size_t n = n_;
  std::size_t t = 1;
  for (std::size_t m = n; m > 2; m >>= 1) {
    const std::size_t h = m >> 1;
    std::size_t j1 = 0;
    for (std::size_t i = 0; i < h; ++i) {
      const u64 w = ipsi_rev_[h + i], wp = ipsi_rev_shoup_[h + i];
      u64* x = a + j1;
      u64* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        u64 X = x[j], Y = y[j];
        u64 U = X + Y;
        U -= (U >= two_q) ? two_q : 0;
        x[j] = U;
        y[j] = mul_shoup_lazy(X - Y + two_q, w, wp, q);
      }
      j1 += 2 * t;
    }
    t <<= 1;
  }
  // Last layer (m = 2): fold in 1/N.
  u64* x = a;
  u64* y = a + t;
  for (std::size_t j = 0; j < t; ++j) {
    u64 X = x[j], Y = y[j];
    u64 U = mul_shoup_lazy(X + Y, n_inv_, n_inv_shoup_, q);
    u64 V = mul_shoup_lazy(X - Y + two_q, last_w_, last_w_shoup_, q);
    x[j] = U >= q ? U - q : U;
    y[j] = V >= q ? V - q : V;
  }
}

}  // namespace deepseek::security::ckks
