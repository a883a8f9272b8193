// Polynomial approximations of non-polynomial activations for CKKS, and their evaluation.
// A fit is least squares on Chebyshev nodes of [lo, hi] (what Kim et al. 2018 use for the
// sigmoid); every fit carries its measured max error on that interval (dense grid), so the
// error is stated, not assumed:
//   sigmoid, degree 3 on [-8, 8]: see sigmoid_approx(3) — max error ≈ 0.113 (as Kim et al.'s g3)
//   ReLU, degree 2 on [-4, 4]:   relu_approx(2)       — max error ≈ 0.33 (= 0.083 × range)
// Evaluation computes the powers by squaring and products and each term as (c_e x)·x^(e-1),
// so the scalar rides on a level the power needs anyway: degree 2 and 3 cost 2 levels,
// degree 4 costs 3 (PolyApprox::depth). Inputs outside [lo, hi] are the caller's concern.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deepseek/security/ckks/evaluator.h"

namespace deepseek::security {

struct PolyApprox {
  std::vector<double> coeffs;  // c_0 + c_1 x + ... + c_d x^d
  double lo = -1, hi = 1;
  double max_error = 0;        // max |p(x) - f(x)| on [lo, hi]
  std::string name;

  double operator()(double x) const;
  int depth() const;  // levels the evaluation consumes
};

PolyApprox fit_polynomial(const std::function<double(double)>& f, double lo, double hi, int degree,
                          const std::string& name = "");
PolyApprox sigmoid_approx(int degree = 3, double bound = 8);
PolyApprox relu_approx(int degree = 2, double bound = 4);

ckks::Ciphertext evaluate_polynomial(const ckks::Evaluator& ev, const ckks::Ciphertext& x, const PolyApprox& p);

}  // namespace deepseek::security
