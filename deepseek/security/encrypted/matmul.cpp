#include "deepseek/security/encrypted/matmul.h"

#include <algorithm>
#include <cmath>
#include <map>

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

// Σ_t u_t ⊙ rot(x, k_t·unit) with baby-step/giant-step: k = g·b1 + j (j in [0, b1)), the b1
// baby rotations hoisted, one rotation per giant step, diagonals pre-rotated by -g·b1·unit.
Ciphertext linear_transform(const ckks::Evaluator& ev, const Ciphertext& x, const std::vector<int>& ks,
                            const std::vector<std::vector<double>>& diags, int unit, int b1) {
  const std::size_t slots = ev.context()->slots();
  std::map<int, std::vector<std::pair<int, std::size_t>>> groups;  // g -> (j, diag index)
  for (std::size_t t = 0; t < ks.size(); ++t) {
    const int g = floor_div(ks[t], b1), j = ks[t] - g * b1;
    groups[g].push_back({j, t});
  }
  std::vector<int> baby;
  for (int j = 0; j < b1; ++j) baby.push_back(j * unit);
  std::vector<Ciphertext> rx = ev.rotate_hoisted(x, baby);
  const auto& ctx = *ev.context();
  const double ps = ctx.level_scale(x.level - 1) * double(ctx.modulus(std::size_t(x.level)).value) / x.scale;
  Ciphertext acc;
  bool have = false;
  for (auto& [g, items] : groups) {
    Ciphertext inner;
    bool hi = false;
    const long long sh = (long long)g * b1 * unit;
    const std::size_t shm = std::size_t(((sh % (long long)slots) + (long long)slots) % (long long)slots);
    for (auto [j, t] : items) {
      std::vector<double> rot(slots);
      for (std::size_t i = 0; i < slots; ++i) rot[(i + shm) % slots] = diags[t][i];
      Ciphertext p = ev.multiply_plain(rx[std::size_t(j)], ev.encoder().encode(rot, ps, x.level));
      if (hi) ev.add_inplace(inner, p);
      else inner = std::move(p), hi = true;
    }
    if (sh) inner = ev.rotate(inner, int(sh));
    if (have) ev.add_inplace(acc, inner);
    else acc = std::move(inner), have = true;
  }
  ev.rescale_inplace(acc);
  acc.scale = ctx.level_scale(acc.level);
  return acc;
}

}  // namespace

std::vector<int> encrypted_matmul_rotations(std::size_t d) {
  std::vector<int> r;
  const int dd = int(d);
  bsgs_steps(-dd + 1, dd - 1, 1, sqrt_pow2(2 * d), r);  // σ
  bsgs_steps(0, dd - 1, dd, sqrt_pow2(d), r);           // τ
  for (int k = 1; k < dd; ++k) {
    r.push_back(k);       // φ
    r.push_back(k - dd);  // φ, wrapped part
    r.push_back(dd * k);  // ψ
  }
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

EncryptedTensor encrypted_matmul(const ckks::Evaluator& ev, const EncryptedTensor& a, const EncryptedTensor& b) {
  DS_CHECK(a.shape.size() == 2 && b.shape.size() == 2 && a.shape[0] == a.shape[1] && b.shape == a.shape,
           "[encrypted] matmul: operands must be square matrices of one size");
  DS_CHECK(a.cts.size() == 1 && b.cts.size() == 1, "[encrypted] matmul: each matrix must fit one ciphertext");
  const std::size_t d = a.shape[0], slots = ev.context()->slots(), n = d * d;
  DS_CHECK(n <= slots && slots % n == 0, "[encrypted] matmul: ", d, "x", d, " needs d^2 dividing the ", slots, " slots");
  ev.require_levels(a.cts[0], 3, "encrypted matrix multiply (Jiang et al.)");
  ev.require_levels(b.cts[0], 3, "encrypted matrix multiply (Jiang et al.)");
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
  Ciphertext A0 = linear_transform(ev, a.cts[0], s_shift, s_diag, 1, sqrt_pow2(2 * d));
  Ciphertext B0 = linear_transform(ev, b.cts[0], t_shift, t_diag, dd, sqrt_pow2(d));
  // Column shifts of A0 (φ^k): masks v_k (columns j < d-k) and v'_k (columns j >= d-k).
  std::vector<int> a_rot, b_rot;
  for (int k = 1; k < dd; ++k) {
    a_rot.push_back(k);
    a_rot.push_back(k - dd);
    b_rot.push_back(dd * k);
  }
  std::vector<Ciphertext> ra = ev.rotate_hoisted(A0, a_rot), rb = ev.rotate_hoisted(B0, b_rot);
  const auto& ctx = *ev.context();
  const double ps = ctx.level_scale(A0.level - 1) * double(ctx.modulus(std::size_t(A0.level)).value) / A0.scale;
  // k = 0 term at one level above the others; the final add aligns it.
  Ciphertext acc = ev.multiply(A0, B0);
  ev.relinearize_inplace(acc);
  ev.rescale_inplace(acc);
  Ciphertext acc3;  // 3-part accumulator of the k >= 1 terms (one relinearization at the end)
  bool have3 = false;
  for (int k = 1; k < dd; ++k) {
    std::vector<double> m1(n, 0.0), m2(n, 0.0);
    for (int l = 0; l < int(n); ++l) {
      int j = l % dd;
      if (j < dd - k) m1[std::size_t(l)] = 1;
      else m2[std::size_t(l)] = 1;
    }
    Ciphertext phi = ev.add(ev.multiply_plain(ra[std::size_t(2 * (k - 1))], ev.encoder().encode(expand(m1), ps, A0.level)),
                            ev.multiply_plain(ra[std::size_t(2 * (k - 1) + 1)], ev.encoder().encode(expand(m2), ps, A0.level)));
    ev.rescale_inplace(phi);
    phi.scale = ctx.level_scale(phi.level);
    Ciphertext bk = ev.mod_switch_to(rb[std::size_t(k - 1)], phi.level);
    Ciphertext prod = ev.multiply(phi, bk);
    if (have3) ev.add_inplace(acc3, prod);
    else acc3 = std::move(prod), have3 = true;
  }
  if (have3) {
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
