// Shared test helpers: tensors from golden-fixture JSON (written by tests/fixtures/gen_*.py
// with PyTorch), closeness checks with messages, and an assertion that a call throws a
// deepseek::Error naming the op.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/autograd/gradcheck.h"
#include "deepseek/ops/ops.h"

namespace deepseek::testing {

// Fixture JSON lives in tests/fixtures/ (tests run with the source root as working dir).
inline nlohmann::json load_fixture(const std::string& name) {
  std::ifstream f("tests/fixtures/" + name);
  if (!f) throw std::runtime_error("missing fixture tests/fixtures/" + name +
                                   " (regenerate with tests/fixtures/gen_*.py)");
  return nlohmann::json::parse(f);
}

// {"shape": [..], "dtype": "f32", "data": [..flat..]} -> Tensor
inline Tensor tensor_from_json(const nlohmann::json& j) {
  Shape shape = j.at("shape").get<std::vector<int64_t>>();
  DType dt = dtype_from_name(j.value("dtype", std::string("f32")));
  std::vector<double> data;
  for (auto& v : j.at("data")) {
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      data.push_back(s == "nan" ? NAN : s == "inf" ? INFINITY : -INFINITY);
    } else {
      data.push_back(v.get<double>());
    }
  }
  if (shape.empty() && data.size() == 1) return full({}, data[0], {dt});
  return tensor(data, shape, {dt});
}

inline ::testing::AssertionResult close(const Tensor& actual, const Tensor& expected,
                                        double rtol = 1e-5, double atol = 1e-6) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << "shape " << to_string(actual.sizes()) << " vs expected "
                                         << to_string(expected.sizes());
  auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(a[i])) continue;
    if (std::isinf(e[i]) && a[i] == e[i]) continue;
    if (!(std::abs(a[i] - e[i]) <= atol + rtol * std::abs(e[i])))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs expected "
                                           << e[i] << " (rtol " << rtol << ", atol " << atol << ")";
  }
  return ::testing::AssertionSuccess();
}

// Random f64 input that requires grad, for gradcheck.
inline Tensor grad_input(const Shape& s, double lo = -1, double hi = 1) {
  Tensor t = add(mul(rand(s, {DType::f64}), hi - lo), lo);
  return t.detach().requires_grad_(true);
}

inline ::testing::AssertionResult grad_ok(const autograd::DiffFn& fn, const std::vector<Tensor>& in,
                                          autograd::GradcheckOptions o = {}) {
  auto r = autograd::gradcheck(fn, in, o);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message;
}

// Expects fn() to throw deepseek::Error whose message contains "[op]".
#define EXPECT_OP_ERROR(op, stmt)                                                       \
  do {                                                                                   \
    try {                                                                                \
      stmt;                                                                              \
      ADD_FAILURE() << "expected an Error naming [" << op << "] from: " #stmt;           \
    } catch (const ::deepseek::Error& e) {                                               \
      EXPECT_NE(std::string(e.what()).find(std::string("[") + op + "]"), std::string::npos) \
          << "error does not name [" << op << "]: " << e.what();                         \
    }                                                                                    \
  } while (0)

}  // namespace deepseek::testing
