#include "deepseek/security/encrypted/poly_approx.h"

#include <cmath>

namespace deepseek::security {

double PolyApprox::operator()(double x) const {
  double r = 0;
  for (std::size_t i = coeffs.size(); i-- > 0;) r = r * x + coeffs[i];
  return r;
}

namespace {
int ceil_log2(int v) {
  int l = 0;
  while ((1 << l) < v) ++l;
  return l;
}
}  // namespace

int PolyApprox::depth() const {
  // Term c_e x^e is evaluated as (c_e x) · x^(e-1): max(1, ceil(log2(e-1))) + 1 levels.
  int levels = 0;
  for (int e = 1; e < int(coeffs.size()); ++e) {
    if (coeffs[std::size_t(e)] == 0) continue;
    levels = std::max(levels, e == 1 ? 1 : std::max(1, ceil_log2(e - 1)) + 1);
  }
  return levels;
}

PolyApprox fit_polynomial(const std::function<double(double)>& f, double lo, double hi, int degree,
                          const std::string& name) {
  DS_CHECK(degree >= 1 && degree <= 15 && hi > lo, "[encrypted] fit_polynomial: bad degree/interval");
  const int m = 512, k = degree + 1;
  // Normal equations in the scaled variable t = x / s (conditioning), long double.
  const long double s = std::max(std::fabs(lo), std::fabs(hi));
  std::vector<long double> A(std::size_t(k * k), 0), b(std::size_t(k), 0);
  for (int i = 0; i < m; ++i) {
    long double x = 0.5L * (lo + hi) + 0.5L * (hi - lo) * std::cos(M_PI * (i + 0.5L) / m);
    long double t = x / s, y = f(double(x));
    std::vector<long double> pw(std::size_t(k), 1);
    for (int j = 1; j < k; ++j) pw[std::size_t(j)] = pw[std::size_t(j - 1)] * t;
    for (int r = 0; r < k; ++r) {
      b[std::size_t(r)] += pw[std::size_t(r)] * y;
      for (int c = 0; c < k; ++c) A[std::size_t(r * k + c)] += pw[std::size_t(r)] * pw[std::size_t(c)];
    }
  }
  // Gaussian elimination with partial pivoting.
  for (int c = 0; c < k; ++c) {
    int piv = c;
    for (int r = c + 1; r < k; ++r)
      if (std::fabs(A[std::size_t(r * k + c)]) > std::fabs(A[std::size_t(piv * k + c)])) piv = r;
    for (int j = 0; j < k; ++j) std::swap(A[std::size_t(c * k + j)], A[std::size_t(piv * k + j)]);
    std::swap(b[std::size_t(c)], b[std::size_t(piv)]);
    for (int r = 0; r < k; ++r) {
      if (r == c) continue;
      long double fct = A[std::size_t(r * k + c)] / A[std::size_t(c * k + c)];
      for (int j = 0; j < k; ++j) A[std::size_t(r * k + j)] -= fct * A[std::size_t(c * k + j)];
      b[std::size_t(r)] -= fct * b[std::size_t(c)];
    }
  }
  PolyApprox p;
  p.lo = lo;
  p.hi = hi;
  p.name = name;
  for (int j = 0; j < k; ++j) p.coeffs.push_back(double(b[std::size_t(j)] / A[std::size_t(j * k + j)] / std::pow(s, j)));
  for (int i = 0; i <= 20000; ++i) {
    double x = lo + (hi - lo) * i / 20000.0;
    p.max_error = std::max(p.max_error, std::fabs(p(x) - f(x)));
  }
  return p;
}

PolyApprox sigmoid_approx(int degree, double bound) {
  return fit_polynomial([](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -bound, bound, degree,
                        "sigmoid deg " + std::to_string(degree));
}

PolyApprox relu_approx(int degree, double bound) {
  return fit_polynomial([](double x) { return x > 0 ? x : 0.0; }, -bound, bound, degree,
                        "relu deg " + std::to_string(degree));
}

ckks::Ciphertext evaluate_polynomial(const ckks::Evaluator& ev, const ckks::Ciphertext& x, const PolyApprox& p) {
  const int d = int(p.coeffs.size()) - 1;
  DS_CHECK(d >= 1, "[encrypted] evaluate_polynomial: degree must be at least 1");
  ev.require_levels(x, p.depth(), "evaluating a degree-" + std::to_string(d) + " polynomial");
  // Powers x^1..x^d: x^(2^i) by squaring, others as products of a power of two and a lower power.
  std::vector<ckks::Ciphertext> pw(std::size_t(d + 1));
  pw[1] = x;
  for (int e = 2; e < d; ++e) {
    int hi = 1;
    while (hi * 2 <= e) hi *= 2;
    if (hi == e) pw[std::size_t(e)] = ev.square(pw[std::size_t(e / 2)]);
    else pw[std::size_t(e)] = ev.mul(pw[std::size_t(hi)], pw[std::size_t(e - hi)]);
  }
  // Σ c_e x^e with c_e x^e = (c_e x) · x^(e-1): the scalar rides on the level the power
  // needs anyway, so a degree-3 polynomial costs 2 levels. The sum is aligned automatically.
  ckks::Ciphertext acc;
  bool have = false;
  for (int e = 1; e <= d; ++e) {
    if (p.coeffs[std::size_t(e)] == 0) continue;
    ckks::Ciphertext t = ev.mul_scalar(x, p.coeffs[std::size_t(e)]);
    if (e >= 2) t = ev.mul(t, pw[std::size_t(e - 1)]);
    if (have) ev.add_inplace(acc, t);
    else acc = std::move(t), have = true;
  }
  if (!have) acc = ev.mul_scalar(x, 0.0);
  return ev.add_scalar(acc, p.coeffs[0]);
}

}  // namespace deepseek::security
