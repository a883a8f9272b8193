#include "deepseek/security/encrypted/logistic_regression.h"

#include <cmath>

#include "deepseek/security/encrypted/linear.h"

namespace deepseek::security {

PlainTensor logreg_rows(const std::vector<std::vector<double>>& X, const std::vector<int>& y) {
  DS_CHECK(!X.empty() && X.size() == y.size(), "[logreg] need as many labels as samples");
  const std::size_t f = X[0].size() + 1;
  PlainTensor z;
  z.shape = {X.size(), f};
  z.data.reserve(X.size() * f);
  for (std::size_t s = 0; s < X.size(); ++s) {
    DS_CHECK(X[s].size() + 1 == f && (y[s] == 0 || y[s] == 1), "[logreg] ragged features or label not 0/1");
    const double sign = y[s] ? 1.0 : -1.0;
    z.data.push_back(sign);
    for (double v : X[s]) z.data.push_back(sign * v);
  }
  return z;
}

namespace {
// Nesterov momentum schedule of Kim et al.: gamma_t = (1 - lambda_t) / lambda_{t+1}.
std::vector<double> nesterov_gammas(int iters) {
  std::vector<double> g;
  double lam = 1.0;
  for (int t = 0; t < iters; ++t) {
    double next = (1 + std::sqrt(1 + 4 * lam * lam)) / 2;
    g.push_back((1 - lam) / next);
    lam = next;
  }
  return g;
}
}  // namespace

void PlainLogisticRegression::train(const PlainTensor& z) {
  const std::size_t n = z.shape.at(0), f = z.shape.at(1);
  w_.assign(f, 0.0);
  std::vector<double> v(f, 0.0);
  auto gam = nesterov_gammas(cfg_.iterations);
  for (int it = 0; it < cfg_.iterations; ++it) {
    std::vector<double> g(f, 0.0);
    for (std::size_t s = 0; s < n; ++s) {
      double u = 0;
      for (std::size_t j = 0; j < f; ++j) u += z.data[s * f + j] * v[j];
      const double sg = cfg_.sigmoid(-u);
      for (std::size_t j = 0; j < f; ++j) g[j] += sg * z.data[s * f + j];
    }
    std::vector<double> w_new(f);
    for (std::size_t j = 0; j < f; ++j) w_new[j] = v[j] + cfg_.learning_rate / double(n) * g[j];
    for (std::size_t j = 0; j < f; ++j) v[j] = (1 - gam[std::size_t(it)]) * w_new[j] + gam[std::size_t(it)] * w_[j];
    w_ = w_new;
  }
}

EncryptedLogisticRegression::EncryptedLogisticRegression(HomoEncryptor& enc, LogRegConfig cfg)
    : enc_(enc), cfg_(std::move(cfg)) {}

int EncryptedLogisticRegression::iterations_per_refresh() const {
  return std::max(1, (enc_.context()->max_level()) / (4 + cfg_.sigmoid.depth()));
}

void EncryptedLogisticRegression::train(const EncryptedTensor& z) {
  DS_CHECK(z.layout == SlotLayout::kRowMajor && z.shape.size() == 2 && !z.cts.empty(),
           "[logreg] train expects the encrypted row matrix from HomoEncryptor::encrypt(logreg_rows(...))");
  const auto& ev = enc_.evaluator();
  const auto& ctx = *enc_.context();
  const std::size_t n = z.shape[0], slots = ctx.slots();
  features_ = z.shape[1];
  width_ = z.period;
  const int per_iter = 4 + cfg_.sigmoid.depth();
  DS_CHECK(ctx.max_level() >= per_iter, "[logreg] one iteration needs ", per_iter, " levels; the parameter set has ",
           ctx.max_level());
  std::vector<int> rots;
  for (std::size_t s = 1; s < width_; s <<= 1) {
    rots.push_back(int(s));
    rots.push_back(-int(s));
  }
  for (std::size_t s = width_; s < slots; s <<= 1) rots.push_back(int(s));
  enc_.add_rotations(rots);
  // w = v = 0, encrypted (replicated per row block).
  w_ = enc_.refresh(ev.mul_scalar(z.cts[0], 0.0));
  v_ = w_;
  refreshes_ = 0;
  const std::vector<double> mask = [&] {
    std::vector<double> m(slots, 0.0);
    for (std::size_t s = 0; s < slots; s += width_) m[s] = cfg_.learning_rate / double(n);
    return m;
  }();
  auto gam = nesterov_gammas(cfg_.iterations);
  for (int it = 0; it < cfg_.iterations; ++it) {
    if (v_.level < per_iter || w_.level < 1) {
      v_ = enc_.refresh(v_);
      w_ = enc_.refresh(w_);
      ++refreshes_;
    }
    ckks::Ciphertext grad;
    bool have = false;
    for (const auto& zc : z.cts) {
      ckks::Ciphertext t = ev.mul(zc, v_);
      t = rotate_and_sum(ev, t, 1, width_);  // u_s in column 0 of each row
      ckks::Ciphertext sg = evaluate_polynomial(ev, ev.negate(t), cfg_.sigmoid);
      sg = ev.mul_plain(sg, mask);
      sg = rotate_and_sum(ev, sg, -1, width_);  // replicate over the row
      ckks::Ciphertext gc = ev.mul(sg, zc);
      if (have) ev.add_inplace(grad, gc);
      else grad = std::move(gc), have = true;
    }
    grad = rotate_and_sum(ev, grad, int(width_), slots / width_);  // sum over samples
    ckks::Ciphertext w_new = ev.add(v_, grad);
    const double g = gam[std::size_t(it)];
    v_ = ev.add(ev.mul_scalar(w_new, 1 - g), ev.mul_scalar(w_, g));
    w_ = std::move(w_new);
  }
}

std::vector<double> EncryptedLogisticRegression::weights() const {
  auto v = enc_.decrypt_slots(w_);
  return std::vector<double>(v.begin(), v.begin() + std::ptrdiff_t(features_));
}

double logreg_accuracy(const std::vector<double>& w, const std::vector<std::vector<double>>& X, const std::vector<int>& y) {
  std::size_t ok = 0;
  for (std::size_t s = 0; s < X.size(); ++s) {
    double u = w[0];
    for (std::size_t j = 0; j < X[s].size(); ++j) u += w[j + 1] * X[s][j];
    ok += (u > 0) == (y[s] == 1);
  }
  return double(ok) / double(X.size());
}

}  // namespace deepseek::security
