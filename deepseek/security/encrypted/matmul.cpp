#include "deepseek/security/encrypted/matmul.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "deepseek/security/encrypted/parallel_sum.h"

namespace deepseek::security {

using ckks::Ciphertext;

namespace {

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int sqrt_pow2(std::size_t n) {
  int b = 1;
  while (std::size_t(b) * std::size_t(b) < n) b <<= 1;
  return b;
}

// Rotation steps (in slots) of a BSGS transform over shifts k·unit, k in [kmin, kmax].
void bsgs_steps(int kmin, int kmax, int unit, int b1, std::vector<int>& out) {
  for (int j = 1; j < b1; ++j) out.push_back(j * unit);
  for (int g = floor_div(kmin, b1); g <= floor_div(kmax, b1); ++g)
    if (g) out.push_back(g * b1 * unit);
}

// Plaintext scale for a transform of x: the product rescaled by q_level lands on level_scale.
double transform_plain_scale(const ckks::CkksContext& ctx, int level, double scale) {
  return ctx.level_scale(level - 1) * double(ctx.modulus(std::size_t(level)).value) / scale;
}

// The BSGS diagonals of Σ_t u_t ⊙ rot(x, k_t·unit), k = g·b1 + j, each pre-rotated by
// -g·b1·unit and encoded at (level, ps); indexed like ks.
std::vector<ckks::Plaintext> encode_bsgs_diags(const ckks::Evaluator& ev, int level, double ps,
                                               const std::vector<int>& ks,
                                               const std::vector<std::vector<double>>& diags,
                                               int unit, int b1) {
  const std::size_t slots = ev.context()->slots();
  std::vector<ckks::Plaintext> out(ks.size());
  std::vector<double> rot(slots);
  for (std::size_t t = 0; t < ks.size(); ++t) {
    const int g = floor_div(ks[t], b1);
    const long long sh = (long long)g * b1 * unit;
    const std::size_t shm =
        std::size_t(((sh % (long long)slots) + (long long)slots) % (long long)slots);
    for (std::size_t i = 0; i < slots; ++i) rot[(i + shm) % slots] = diags[t][i];
    out[t] = ev.encoder().encode(rot, ps, level);
  }
  return out;
}

// Σ_t u_t ⊙ rot(x, k_t·unit) with baby-step/giant-step: k = g·b1 + j (j in [0, b1)), the b1
// baby rotations hoisted, one rotation per giant step, diagonals pre-rotated by -g·b1·unit
// (encoded once by encode_bsgs_diags and cached by the caller).
Ciphertext linear_transform(const ckks::Evaluator& ev, const Ciphertext& x,
                            const std::vector<int>& ks, const std::vector<ckks::Plaintext>& pts,
                            int unit, int b1) {
  std::map<int, std::vector<std::pair<int, std::size_t>>> groups;  // g -> (j, diag index)
  for (std::size_t t = 0; t < ks.size(); ++t) {
    const int g = floor_div(ks[t], b1), j = ks[t] - g * b1;
    groups[g].push_back({j, t});
  }
  std::vector<int> baby;
  for (int j = 0; j < b1; ++j) baby.push_back(j * unit);
  std::vector<Ciphertext> rx = ev.rotate_hoisted(x, baby);
  const auto& ctx = *ev.context();
  // Giant steps are independent: whole groups per thread (see parallel_sum.h).
  std::vector<std::pair<int, const std::vector<std::pair<int, std::size_t>>*>> work;
  for (auto& [g, items] : groups) work.push_back({g, &items});
  Ciphertext acc =
      *detail::parallel_sum(ev, work.size(), [&](std::size_t w) -> std::optional<Ciphertext> {
        const long long sh = (long long)work[w].first * b1 * unit;
        std::vector<const Ciphertext*> xs;
        std::vector<const ckks::Plaintext*> ps;
        for (auto [j, t] : *work[w].second) {
          xs.push_back(&rx[std::size_t(j)]);
          ps.push_back(&pts[t]);
        }
        Ciphertext inner = ev.multiply_plain_sum(xs, ps);
        if (sh) inner = ev.rotate(inner, int(sh));
        return inner;
      });
  ev.rescale_inplace(acc);
  acc.scale = ctx.level_scale(acc.level);
  return acc;
}

// Encoded plaintexts of one matmul configuration (≈ 5d plaintexts). They depend only on the
// parameter set, d and the operands' levels and scales, so they are built once and shared by
// later calls (a few configurations are kept; the oldest is dropped).
struct MatmulPlains {
  std::vector<int> s_shift, t_shift;
  std::vector<ckks::Plaintext> s_pts, t_pts, m1, m2;
};
struct MatmulKey {
  std::uint64_t ctx_id;
  std::size_t d;
  int la, lb;
  double sa, sb;
  bool operator<(const MatmulKey& o) const {
    return std::tie(ctx_id, d, la, lb, sa, sb) < std::tie(o.ctx_id, o.d, o.la, o.lb, o.sa, o.sb);
  }
};
constexpr std::size_t kMatmulCacheEntries = 2;
std::mutex g_matmul_mu;
std::map<MatmulKey, std::pair<std::uint64_t, std::shared_ptr<const MatmulPlains>>> g_matmul_cache;
std::uint64_t g_matmul_tick = 0;

std::shared_ptr<const MatmulPlains> build_matmul_plains(const ckks::Evaluator& ev, std::size_t d,
                                                        const Ciphertext& ca,
                                                        const Ciphertext& cb) {
  const std::size_t slots = ev.context()->slots(), n = d * d;
  const auto& ctx = *ev.context();
  const int dd = int(d);
  // Matrices are replicated slots/n times, so rotations are cyclic mod n.
  auto expand = [&](const std::vector<double>& v) {
    std::vector<double> full(slots);
    for (std::size_t s = 0; s < slots; ++s) full[s] = v[s % n];
    return full;
  };
  // σ(A)_{i,j} = A_{i,i+j}: shift k = i on columns j < d-i, k = i-d on the others.
  std::vector<int> s_shift;
  std::vector<std::vector<double>> s_diag;
  for (int k = -dd + 1; k < dd; ++k) {
    std::vector<double> u(n, 0.0);
    for (int l = 0; l < int(n); ++l) {
      const int i = l / dd, j = l % dd;
      if (k >= 0 ? (i == k && j < dd - k) : (i == dd + k && j >= -k)) u[std::size_t(l)] = 1;
    }
    s_shift.push_back(k);
    s_diag.push_back(expand(u));
  }
  // τ(B)_{i,j} = B_{i+j,j}: shift d·j (mod d^2) on column j.
  std::vector<int> t_shift;
  std::vector<std::vector<double>> t_diag;
  for (int k = 0; k < dd; ++k) {
    std::vector<double> v(n, 0.0);
    for (int i = 0; i < dd; ++i) v[std::size_t(dd * i + k)] = 1;
    t_shift.push_back(k);
    t_diag.push_back(expand(v));
  }
  auto P = std::make_shared<MatmulPlains>();
  P->s_pts = encode_bsgs_diags(ev, ca.level, transform_plain_scale(ctx, ca.level, ca.scale),
                               s_shift, s_diag, 1, sqrt_pow2(2 * d));
  P->t_pts = encode_bsgs_diags(ev, cb.level, transform_plain_scale(ctx, cb.level, cb.scale),
                               t_shift, t_diag, dd, sqrt_pow2(d));
  P->s_shift = std::move(s_shift);
  P->t_shift = std::move(t_shift);
  // φ masks, at A0's level (one below a's) and for A0's scale, pre-rotated by -k: φ^k(A0) =
  // rot(A0, k)⊙v_k + rot(A0, k-d)⊙v'_k = rot(A0⊙rot(v_k, -k) + rot(A0, -d)⊙rot(v'_k, -k), k).
  const int la = ca.level - 1;
  const double ps = transform_plain_scale(ctx, la, ctx.level_scale(la));
  for (int k = 1; k < dd; ++k) {
    std::vector<double> m1(n, 0.0), m2(n, 0.0);
    for (int l = 0; l < int(n); ++l) {
      const int src = (l - k + int(n)) % int(n);  // rot(v, -k)[l] = v[l - k]
      if (src % dd < dd - k)
        m1[std::size_t(l)] = 1;
      else
        m2[std::size_t(l)] = 1;
    }
    P->m1.push_back(ev.encoder().encode(expand(m1), ps, la));
    P->m2.push_back(ev.encoder().encode(expand(m2), ps, la));
  }
  return P;
}

}  // namespace

std::vector<int> encrypted_matmul_rotations(std::size_t d) {
  std::vector<int> r;
  const int dd = int(d);
  bsgs_steps(-dd + 1, dd - 1, 1, sqrt_pow2(2 * d), r);  // σ
  bsgs_steps(0, dd - 1, dd, sqrt_pow2(d), r);           // τ
  r.push_back(-dd);                                     // φ: rot(A0, -d), once
  for (int k = 1; k < dd; ++k) {
    r.push_back(k);       // φ
    r.push_back(dd * k);  // ψ
  }
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

EncryptedTensor encrypted_matmul(const ckks::Evaluator& ev, const EncryptedTensor& a,
                                 const EncryptedTensor& b) {
  DS_CHECK(
      a.shape.size() == 2 && b.shape.size() == 2 && a.shape[0] == a.shape[1] && b.shape == a.shape,
      "[encrypted] matmul: operands must be square matrices of one size");
  DS_CHECK(a.cts.size() == 1 && b.cts.size() == 1,
           "[encrypted] matmul: each matrix must fit one ciphertext");
  const std::size_t d = a.shape[0], slots = ev.context()->slots(), n = d * d;
  DS_CHECK(n <= slots && slots % n == 0, "[encrypted] matmul: ", d, "x", d,
           " needs d^2 dividing the ", slots, " slots");
  ev.require_levels(a.cts[0], 3, "encrypted matrix multiply (Jiang et al.)");
  ev.require_levels(b.cts[0], 3, "encrypted matrix multiply (Jiang et al.)");
  const int dd = int(d);
  const auto& ctx = *ev.context();
  const MatmulKey key{ctx.id(), d, a.cts[0].level, b.cts[0].level, a.cts[0].scale, b.cts[0].scale};
  std::shared_ptr<const MatmulPlains> plains;
  {
    std::lock_guard<std::mutex> lock(g_matmul_mu);
    auto it = g_matmul_cache.find(key);
    if (it != g_matmul_cache.end()) {
      it->second.first = ++g_matmul_tick;
      plains = it->second.second;
    }
  }
  if (!plains) plains = build_matmul_plains(ev, d, a.cts[0], b.cts[0]);
  {
    std::lock_guard<std::mutex> lock(g_matmul_mu);
    g_matmul_cache[key] = {++g_matmul_tick, plains};
    while (g_matmul_cache.size() > kMatmulCacheEntries) {
      auto oldest = g_matmul_cache.begin();
      for (auto it = g_matmul_cache.begin(); it != g_matmul_cache.end(); ++it)
        if (it->second.first < oldest->second.first) oldest = it;
      g_matmul_cache.erase(oldest);
    }
  }
  Ciphertext A0 =
      linear_transform(ev, a.cts[0], plains->s_shift, plains->s_pts, 1, sqrt_pow2(2 * d));
  Ciphertext B0 = linear_transform(ev, b.cts[0], plains->t_shift, plains->t_pts, dd, sqrt_pow2(d));
  DS_CHECK(A0.level == a.cts[0].level - 1 && A0.scale == ctx.level_scale(A0.level),
           "[encrypted] matmul: unexpected level after the σ transform");
  // k = 0 term at one level above the others; the final add aligns it.
  Ciphertext acc = ev.multiply(A0, B0);
  ev.relinearize_inplace(acc);
  ev.rescale_inplace(acc);
  // Key switching costs grow with the number of primes, so every rotation below runs one
  // level lower than A0/B0: ψ^k(B0) = rot(B0, d·k) on B0 switched down to the level of the
  // products (63 hoisted rotations), and φ^k(A0) as one rotation of the already masked and
  // rescaled A0⊙rot(v_k,-k) + rot(A0,-d)⊙rot(v'_k,-k) (d-1 rotations instead of 2(d-1)).
  const int lp = A0.level - 1;
  std::vector<int> b_rot;
  for (int k = 1; k < dd; ++k) b_rot.push_back(dd * k);
  std::vector<Ciphertext> rb = ev.rotate_hoisted(ev.mod_switch_to(B0, lp), b_rot);
  const Ciphertext A0w = ev.rotate(A0, -dd);
  // The d-1 terms are independent: one per thread at a time (see parallel_sum.h). Their sum
  // has 3 parts: one relinearization at the end.
  auto sum3 = detail::parallel_sum(
      ev, std::size_t(dd - 1), [&](std::size_t i) -> std::optional<Ciphertext> {
        const int k = int(i) + 1;
        Ciphertext phi = ev.multiply_plain_sum({&A0, &A0w}, {&plains->m1[i], &plains->m2[i]});
        ev.rescale_inplace(phi);
        phi.scale = ctx.level_scale(phi.level);
        return ev.multiply(ev.rotate(phi, k), rb[i]);
      });
  if (sum3) {
    Ciphertext acc3 = std::move(*sum3);
    ev.relinearize_inplace(acc3);
    ev.rescale_inplace(acc3);
    acc3.scale = ctx.level_scale(acc3.level);
    ev.add_inplace(acc3, acc);  // aligned automatically (acc is one level higher)
    acc = std::move(acc3);
  }
  EncryptedTensor out;
  out.shape = a.shape;
  out.cts.push_back(std::move(acc));
  out.layout = SlotLayout::kRowMajor;
  return out;
}

}  // namespace deepseek::security
