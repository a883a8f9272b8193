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

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/gradcheck.h"
#include "deepseek/autograd/grad_mode.h"
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

// gradcheck of x -> vjp(fn)(x, v) for a fixed random v (double backward through
// create_graph). Grad mode is forced on inside, since gradcheck evaluates under no_grad.
inline ::testing::AssertionResult gradgrad_ok(const autograd::DiffFn& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> vs;
  for (auto& o : fn(inputs)) vs.push_back(randn(o.sizes(), {DType::f64}));
  autograd::DiffFn backward_fn = [&](const std::vector<Tensor>& in) {
    autograd::EnableGradGuard on;
    auto outs = fn(in);
    std::vector<Tensor> wrt;
    for (auto& t : in)
      if (t.defined() && t.requires_grad()) wrt.push_back(t);
    std::vector<Tensor> res;
    for (auto& g : autograd::grad(outs, wrt, vs, true, true, true))
      if (g.defined()) res.push_back(g);
    return res;
  };
  return grad_ok(backward_fn, inputs);
}

// Tensor `key` of case `name` in tests/fixtures/nn.json (gen_nn.py).
inline Tensor nn_fixture(const char* name, const char* key) {
  static const nlohmann::json cases = load_fixture("nn.json").at("cases");
  return tensor_from_json(cases.at(name).at(key));
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
