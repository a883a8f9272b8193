// Unary, binary and reduction ops: forward against PyTorch (tests/fixtures/elementwise.json,
// made by gen_elementwise.py), gradients against finite differences, type promotion against
// PyTorch's table, and strided/broadcast inputs against contiguous ones.
#include <map>

#include "deepseek/autograd/grad_mode.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

const std::map<std::string, Fn>& functions() {
  static const std::map<std::string, Fn> fns = {
      {"neg", [](auto& v) { return neg(v[0]); }},
      {"abs", [](auto& v) { return abs(v[0]); }},
      {"exp", [](auto& v) { return exp(v[0]); }},
      {"log", [](auto& v) { return log(add(abs(v[0]), 0.1)); }},
      {"log1p", [](auto& v) { return log1p(abs(v[0])); }},
      {"expm1", [](auto& v) { return expm1(v[0]); }},
      {"sqrt", [](auto& v) { return sqrt(abs(v[0])); }},
      {"rsqrt", [](auto& v) { return rsqrt(add(abs(v[0]), 0.1)); }},
      {"sin", [](auto& v) { return sin(v[0]); }},
      {"cos", [](auto& v) { return cos(v[0]); }},
      {"tanh", [](auto& v) { return tanh(v[0]); }},
      {"sigmoid", [](auto& v) { return sigmoid(v[0]); }},
      {"relu", [](auto& v) { return relu(v[0]); }},
      {"gelu", [](auto& v) { return gelu(v[0]); }},
      {"gelu_tanh", [](auto& v) { return gelu(v[0], "tanh"); }},
      {"silu", [](auto& v) { return silu(v[0]); }},
      {"softplus", [](auto& v) { return softplus(v[0]); }},
      {"sign", [](auto& v) { return sign(v[0]); }},
      {"floor", [](auto& v) { return floor(v[0]); }},
      {"ceil", [](auto& v) { return ceil(v[0]); }},
      {"round", [](auto& v) { return round(mul(v[0], 2)); }},
      {"erf", [](auto& v) { return erf(v[0]); }},
      {"clamp", [](auto& v) { return clamp(v[0], Scalar(-0.5), Scalar(0.7)); }},
      {"pow3", [](auto& v) { return pow(v[0], Scalar(3)); }},
      {"square", [](auto& v) { return square(v[0]); }},
      {"reciprocal", [](auto& v) { return reciprocal(add(abs(v[0]), 0.1)); }},
      {"add", [](auto& v) { return add(v[0], v[1]); }},
      {"sub", [](auto& v) { return sub(v[0], v[1]); }},
      {"mul", [](auto& v) { return mul(v[0], v[1]); }},
      {"div", [](auto& v) { return div(v[0], v[1]); }},
      {"pow", [](auto& v) { return pow(add(abs(v[0]), 0.1), v[1]); }},
      {"maximum", [](auto& v) { return maximum(v[0], v[1]); }},
      {"minimum", [](auto& v) { return minimum(v[0], v[1]); }},
      {"eq", [](auto& v) { return eq(round(v[0]), round(v[1])); }},
      {"lt", [](auto& v) { return lt(v[0], v[1]); }},
      {"ge", [](auto& v) { return ge(v[0], v[1]); }},
      {"sum_all", [](auto& v) { return sum(v[0]); }},
      {"sum_0", [](auto& v) { return sum(v[0], {0}); }},
      {"sum_1k", [](auto& v) { return sum(v[0], {1}, true); }},
      {"mean_1", [](auto& v) { return mean(v[0], {1}); }},
      {"prod_1", [](auto& v) { return prod(v[0], 1); }},
      {"amax_0", [](auto& v) { return amax(v[0], {0}); }},
      {"amin_all", [](auto& v) { return amin(v[0]); }},
      {"argmax_1", [](auto& v) { return argmax(v[0], 1); }},
      {"argmin_all", [](auto& v) { return argmin(v[0]); }},
      {"max_1_values", [](auto& v) { return std::get<0>(max(v[0], 1)); }},
      {"max_1_indices", [](auto& v) { return std::get<1>(max(v[0], 1)); }},
      {"softmax_1", [](auto& v) { return softmax(v[0], 1); }},
      {"log_softmax_0", [](auto& v) { return log_softmax(v[0], 0); }},
  };
  return fns;
}

}  // namespace

TEST(Elementwise, ForwardMatchesPyTorch) {
  auto fx = load_fixture("elementwise.json");
  int checked = 0;
  for (auto& c : fx["cases"]) {
    std::string op = c["op"];
    auto it = functions().find(op);
    ASSERT_NE(it, functions().end()) << "no test function for fixture op " << op;
    std::vector<Tensor> in;
    for (auto& j : c["inputs"]) in.push_back(tensor_from_json(j));
    Tensor expected = tensor_from_json(c["output"]);
    Tensor got = it->second(in);
    EXPECT_EQ(got.dtype(), expected.dtype()) << op;
    double tol = in[0].dtype() == DType::f32 ? 2e-6 : 1e-12;
    EXPECT_TRUE(close(got, expected, tol, tol)) << op << " (" << dtype_name(in[0].dtype()) << ")";
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

TEST(Elementwise, GradcheckEveryDifferentiableOp) {
  std::vector<std::string> nondiff = {"sign", "floor", "ceil", "round", "eq", "lt", "ge",
                                      "argmax_1", "argmin_all", "max_1_indices"};
  for (auto& [name, fn] : functions()) {
    if (std::find(nondiff.begin(), nondiff.end(), name) != nondiff.end()) continue;
    manual_seed(7);
    // Keep inputs away from kinks (abs, relu, clamp, maximum ties) so differences are smooth.
    Tensor a = grad_input({3, 4});
    Tensor b = grad_input({4});
    {
      autograd::NoGradGuard ng;
      Tensor shift = mul(sign(a), 0.05);
      a = add(a, shift).detach().requires_grad_(true);
    }
    EXPECT_TRUE(grad_ok([&](auto& v) { return std::vector<Tensor>{fn(v)}; }, {a, b})) << name;
  }
}

TEST(Elementwise, DoubleBackward) {
  Tensor x = grad_input({5});
  for (auto fn : std::vector<Fn>{[](auto& v) { return tanh(v[0]); }, [](auto& v) { return mul(exp(v[0]), v[0]); },
                                 [](auto& v) { return softmax(v[0], 0); }, [](auto& v) { return gelu(v[0]); },
                                 [](auto& v) { return gelu(v[0], "tanh"); },
                                 [](auto& v) { return log_softmax(v[0], 0); }}) {
    auto r = autograd::gradgradcheck([&](auto& v) { return std::vector<Tensor>{fn(v)}; }, {x});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Elementwise, PromotionMatchesPyTorch) {
  auto fx = load_fixture("elementwise.json");
  auto dt = [](const std::string& s) { return dtype_from_name(s == "bool" ? "bool" : s); };
  for (auto& p : fx["promotion"]) {
    DType a = dt(p["a"]);
    if (p.contains("b")) {
      DType b = dt(p["b"]);
      EXPECT_EQ(dtype_name(promote_types(a, b)), dtype_name(dt(p["tensor_tensor"])))
          << dtype_name(a) << "+" << dtype_name(b);
      Tensor x = ones({2}, {a}), y = ones({}, {b});
      EXPECT_EQ(dtype_name(add(x, y).dtype()), dtype_name(dt(p["tensor_zerodim"])))
          << dtype_name(a) << " + 0-d " << dtype_name(b);
    } else {
      std::string s = p["scalar"];
      Tensor x = ones({2}, {a});
      Tensor r = s == "int" ? add(x, Scalar(2)) : s == "float" ? add(x, Scalar(2.5)) : add(x, Scalar(true));
      if (a == DType::b8 && s == "bool") continue;  // bool + bool is logical or in our add
      EXPECT_EQ(dtype_name(r.dtype()), dtype_name(dt(p["tensor_scalar"])))
          << dtype_name(a) << " + " << s;
    }
  }
}

TEST(Elementwise, StridedAndBroadcastInputsMatchContiguous) {
  manual_seed(3);
  Tensor base = randn({6, 5});
  Tensor t = transpose(base, 0, 1);  // non-contiguous
  Tensor c = contiguous(t);
  Tensor row = randn({1, 6});
  EXPECT_TRUE(equal(add(t, row), add(c, row)));
  EXPECT_TRUE(equal(exp(t), exp(c)));
  EXPECT_TRUE(equal(sum(t, {1}), sum(c, {1})));
  EXPECT_TRUE(equal(sum(t, {0}), sum(c, {0})));
  Tensor sliced = slice(base, 1, 0, 5, 2);
  EXPECT_TRUE(equal(mul(sliced, sliced), mul(contiguous(sliced), contiguous(sliced))));
  Tensor e = expand(randn({1, 5}), {4, 5});
  EXPECT_TRUE(equal(add(e, e), mul(contiguous(e), 2)));
}

TEST(Elementwise, LargeReductionsAreAccurateAndThreaded) {
  Tensor x = full({1 << 22}, 0.1, {DType::f32});
  EXPECT_NEAR(sum(x).item<double>(), 0.1 * (1 << 22), 1.0);
  Tensor m = randn({512, 1024});
  Tensor rows = sum(m, {1});
  Tensor cols = sum(m, {0});
  Tensor m64 = cast(m, DType::f64);
  EXPECT_TRUE(close(rows, sum(m64, {1}), 1e-4, 1e-3));
  EXPECT_TRUE(close(cols, sum(m64, {0}), 1e-4, 1e-3));
}

TEST(Elementwise, HalfTypesComputeInFloat) {
  Tensor x = tensor({1.5, -2.25, 1000}, {}, {DType::f16});
  Tensor y = mul(x, x);
  EXPECT_EQ(y.dtype(), DType::f16);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2.25, 5.0625, 1000000 > 65504 ? INFINITY : 0}));
  Tensor b = tensor({1, 2, 3}, {}, {DType::bf16});
  EXPECT_EQ(sum(b).dtype(), DType::bf16);
  EXPECT_DOUBLE_EQ(sum(b).item<double>(), 6);
  EXPECT_EQ(add(x, b).dtype(), DType::f32);  // f16 with bf16 promotes to f32
}

TEST(Elementwise, IntegerSemantics) {
  Tensor a = tensor_i64({7, -7, 2});
  EXPECT_EQ(sum(a).dtype(), DType::i64);
  EXPECT_EQ(div(a, tensor_i64({2, 2, 2})).dtype(), DType::f32);  // true division
  EXPECT_EQ(exp(a).dtype(), DType::f32);
  EXPECT_EQ(neg(a).to_vector<int64_t>(), (std::vector<int64_t>{-7, 7, -2}));
  EXPECT_EQ(sum(ones({3}, {DType::b8})).item<int64_t>(), 3);
  // Integer pow wraps on overflow, as PyTorch (torch.tensor([65536, 3, -2], dtype=torch.int32)
  // ** 2 is [0, 9, 4]; 3 ** 40 in int16 is -6111); negative exponents give 1 / x truncated
  // (PyTorch refuses them).
  Tensor i32 = tensor_i64({65536, 3, -2}).to(DType::i32);
  EXPECT_EQ(pow(i32, tensor_i64({2, 2, 2}).to(DType::i32)).to_vector<int64_t>(), (std::vector<int64_t>{0, 9, 4}));
  Tensor i16 = tensor_i64({3}).to(DType::i16);
  EXPECT_EQ(pow(i16, tensor_i64({40}).to(DType::i16)).to_vector<int64_t>(), (std::vector<int64_t>{-6111}));
  EXPECT_EQ(pow(tensor_i64({1, -1, 2}), tensor_i64({-3, -3, -3})).to_vector<int64_t>(), (std::vector<int64_t>{1, -1, 0}));
}

TEST(Elementwise, BadInputsNameTheOp) {
  EXPECT_OP_ERROR("add", add(ones({2, 3}), ones({4})));
  EXPECT_OP_ERROR("where", where(ones({3}), ones({3}), ones({3})));
  EXPECT_OP_ERROR("sum", sum(ones({2, 3}), {2}));
  EXPECT_OP_ERROR("sum", sum(ones({2, 3}), {1, 1}));
  EXPECT_OP_ERROR("softmax", softmax(ones({2, 3}), 5));
  EXPECT_OP_ERROR("argmax", argmax(ones({0})));
  EXPECT_OP_ERROR("amax", amax(ones({0, 3}), {0}));
  EXPECT_OP_ERROR("neg", neg(ones({2}, {DType::b8})));
  EXPECT_OP_ERROR("mean", mean(ones({2}, {DType::i64})));
  EXPECT_OP_ERROR("add", add(ones({2}), Tensor()));
}
