// max/avg pool 1d/2d, adaptive_avg_pool2d, unfold/fold: forward (and max-pool indices)
// against PyTorch fixtures (tests/fixtures/gen_pool.py), gradcheck, double backward through
// the adjoint ops, half precision, and bad inputs.
#include "deepseek/ops/linalg_backward.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;
using nlohmann::json;
using Ints = std::vector<int64_t>;

namespace {
const json& fixtures() {
  static json j = load_fixture("pool.json");
  return j.at("cases");
}
Tensor run_case(const json& c, const Tensor& x) {
  const json& a = c.at("attrs");
  std::string op = c.at("op");
  if (op == "max_pool2d") return max_pool2d(x, a.at("kernel").get<Ints>(), a.at("stride").get<Ints>(), a.at("padding").get<Ints>());
  if (op == "max_pool1d") return max_pool1d(x, a.at("kernel"), a.at("stride").get<int64_t>(), a.at("padding"));
  if (op == "avg_pool2d")
    return avg_pool2d(x, a.at("kernel").get<Ints>(), a.at("stride").get<Ints>(), a.at("padding").get<Ints>(),
                      a.at("count_include_pad").get<bool>());
  if (op == "avg_pool1d") return avg_pool1d(x, a.at("kernel"), a.at("stride").get<int64_t>(), a.at("padding"));
  if (op == "adaptive_avg_pool2d") return adaptive_avg_pool2d(x, a.at("output_size").get<Ints>());
  return unfold(x, a.at("kernel").get<Ints>(), a.at("dilation").get<Ints>(), a.at("padding").get<Ints>(),
                a.at("stride").get<Ints>());
}
}  // namespace

TEST(Pool, ForwardMatchesPyTorch) {
  const json& cs = fixtures();
  for (auto it = cs.begin(); it != cs.end(); ++it) {
    Tensor x = tensor_from_json(it->at("inputs")[0]);
    Tensor want = tensor_from_json(it->at("out"));
    for (DType t : {DType::f32, DType::f64})
      EXPECT_TRUE(close(run_case(*it, x.to(t)), want, 1e-5, 1e-5)) << it.key() << " " << dtype_name(t);
    if (it->contains("indices")) {
      const json& a = it->at("attrs");
      auto [v, idx] = max_pool2d_with_indices(x, a.at("kernel").get<Ints>(), a.at("stride").get<Ints>(),
                                              a.at("padding").get<Ints>());
      EXPECT_EQ(idx.dtype(), DType::i64);
      EXPECT_EQ(idx.to_vector<int64_t>(), tensor_from_json(it->at("indices")).to_vector<int64_t>()) << it.key();
    }
  }
}

TEST(Pool, UnbatchedNonContiguousAndHalf) {
  Tensor x = randn({3, 6, 5}).transpose(1, 2);  // (3, 5, 6), unbatched, non-contiguous
  Tensor ref = max_pool2d(unsqueeze(contiguous(x), 0), {2, 2});
  EXPECT_TRUE(close(max_pool2d(x, {2, 2}), squeeze(ref, 0)));
  EXPECT_TRUE(close(avg_pool2d(x.to(DType::bf16), {2, 2}), avg_pool2d(x, {2, 2}), 2e-2, 2e-2));
  EXPECT_TRUE(close(adaptive_avg_pool2d(x.to(DType::f16), {2, 3}), adaptive_avg_pool2d(x, {2, 3}), 2e-2, 2e-2));
  // unfold then fold of ones counts how many windows cover each pixel.
  Tensor cols = unfold(ones({1, 1, 4, 4}), {2, 2});
  Tensor back = fold(cols, {4, 4}, {2, 2});
  EXPECT_EQ(back.to_vector<double>(), std::vector<double>({1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1}));
}

TEST(Pool, Gradcheck) {
  auto f = [](auto fn) { return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x[0])}; }; };
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return max_pool2d(x, {3, 2}, {2, 1}, {1, 1}); }), {grad_input({2, 2, 5, 4})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return max_pool1d(x, 3, 2, 1); }), {grad_input({2, 2, 7})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return avg_pool2d(x, {3, 2}, {2, 1}, {1, 1}, true); }), {grad_input({1, 2, 5, 4})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}, false); }), {grad_input({1, 2, 5, 6})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return avg_pool1d(x, 4, 2, 2); }), {grad_input({1, 2, 9})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 2}); }), {grad_input({2, 2, 7, 5})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return unfold(x, {2, 3}, {1, 2}, {1, 0}, {2, 1}); }), {grad_input({1, 2, 5, 6})}));
  EXPECT_TRUE(grad_ok(f([](const Tensor& x) { return fold(x, {4, 5}, {2, 2}); }), {grad_input({1, 8, 12})}));
}

TEST(Pool, DoubleBackward) {
  // The ops are linear, so each is applied to x*x: a vjp that does not depend on the input
  // cannot be differentiated again.
  auto f = [](auto fn) {
    return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(mul(x[0], x[0]))}; };
  };
  EXPECT_TRUE(autograd::gradgradcheck(f([](const Tensor& x) { return avg_pool2d(x, {2, 2}, {1, 1}, {1, 1}, false); }),
                                      {grad_input({1, 1, 3, 4})}).ok);
  EXPECT_TRUE(autograd::gradgradcheck(f([](const Tensor& x) { return adaptive_avg_pool2d(x, {2, 3}); }),
                                      {grad_input({1, 2, 5, 4})}).ok);
  EXPECT_TRUE(autograd::gradgradcheck(f([](const Tensor& x) { return unfold(x, {2, 2}); }), {grad_input({1, 1, 3, 3})}).ok);
  EXPECT_TRUE(autograd::gradgradcheck(f([](const Tensor& x) { return mul(max_pool2d(x, {2, 2}), max_pool2d(x, {2, 2})); }),
                                      {grad_input({1, 1, 4, 4})}).ok);
}

TEST(Pool, BadInputs) {
  Tensor x = randn({1, 2, 6, 6});
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(randn({6, 6}), {2, 2}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(x, {2}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(x, {0, 2}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(x, {2, 2}, {0, 1}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(x, {2, 2}, {2, 2}, {2, 0}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(x, {7, 7}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(ones({1, 2, 6, 6}, {DType::i64}), {2, 2}));
  EXPECT_OP_ERROR("max_pool2d", max_pool2d(randn({1, 0, 6, 6}), {2, 2}));
  EXPECT_OP_ERROR("max_pool1d", max_pool1d(x, 2));
  EXPECT_OP_ERROR("max_pool1d", max_pool1d(randn({1, 2, 3}), 5));
  EXPECT_OP_ERROR("avg_pool2d", avg_pool2d(randn({2, 6}), {2, 2}));
  EXPECT_OP_ERROR("avg_pool2d", avg_pool2d(x, {2, 2}, {2, 2}, {-1, 0}));
  EXPECT_OP_ERROR("avg_pool1d", avg_pool1d(randn({1, 2, 3}), 2, 1, 2));
  EXPECT_OP_ERROR("adaptive_avg_pool2d", adaptive_avg_pool2d(x, {0, 2}));
  EXPECT_OP_ERROR("adaptive_avg_pool2d", adaptive_avg_pool2d(x, {2}));
  EXPECT_OP_ERROR("adaptive_avg_pool2d", adaptive_avg_pool2d(randn({6}), {2, 2}));
  EXPECT_OP_ERROR("unfold", unfold(randn({2, 3}), {2, 2}));
  EXPECT_OP_ERROR("unfold", unfold(x, {8, 2}));
  EXPECT_OP_ERROR("fold", fold(randn({1, 7, 4}), {3, 3}, {2, 2}));
  EXPECT_OP_ERROR("fold", fold(randn({1, 8, 5}), {3, 3}, {2, 2}));
}

// dilation and ceil_mode against PyTorch 2.15 (F.max_pool2d(..., return_indices=True)) on
// x = sin(1.7 * arange(2*1*7*9)).reshape(2, 1, 7, 9) in f64; values to 1e-12.
TEST(Pool, MaxPoolDilationAndCeilModeMatchPyTorch) {
  Tensor x = reshape(sin(mul(arange(0, 2 * 7 * 9, 1, {DType::f64}), 1.7)), {2, 1, 7, 9});
  struct Case {
    Ints k, s, p, d;
    bool ceil;
    Shape shape;
    std::vector<double> vals;
    std::vector<int64_t> idx;
  };
  std::vector<Case> cases = {
      {{3, 3}, {2, 2}, {1, 1}, {2, 2}, true, {2, 1, 3, 4},
       {0.999792900143, 0.999792900143, 0.999792900143, 0.949403860687, 0.999792900143, 0.999792900143,
        0.999792900143, 0.949403860687, 0.670229175843, 0.670229175843, 0.949403860687, 0.949403860687,
        0.964962073822, 0.964962073822, 0.99943509216, 0.99943509216, 0.964962073822, 0.964962073822,
        0.99943509216, 0.99943509216, 0.852300207508, 0.852300207508, 0.99943509216, 0.99943509216},
       {12, 12, 12, 34, 12, 12, 12, 34, 30, 30, 34, 34, 12, 12, 34, 34, 12, 12, 34, 34, 30, 30, 34, 34}},
      {{2, 2}, {2, 2}, {0, 0}, {1, 1}, true, {2, 1, 4, 5},
       {0.991664810452, 0.999792900143, 0.798487112623, 0.879273061651, 0.859161814856, 0.940428962947,
        0.670229175843, 0.985600298791, 0.949403860687, 0.215987266188, 0.892011682699, 0.980589491776,
        0.998858051695, 0.755640225739, 0.84479768402, -0.639473344145, 0.814705063258, -0.228916922445,
        0.994826791358, -0.987756066488, 0.915094768221, 0.964962073822, 0.719209896965, 0.709285500608,
        0.96858570992, 0.92072064778, 0.852300207508, 0.993286297537, 0.99943509216, 0.482540230705,
        0.983271183916, 0.885512514275, 0.9448551023, 0.660328027182, 0.659638125451, -0.445676507972,
        0.945155437143, 0.054857311837, 0.983103502904, -0.903685751344},
       {1, 12, 5, 16, 8, 27, 30, 23, 34, 26, 45, 38, 49, 42, 53, 54, 56, 59, 60, 62,
        1, 12, 4, 16, 8, 19, 30, 23, 34, 26, 45, 38, 49, 52, 53, 55, 56, 59, 60, 62}},
      {{3, 2}, {2, 3}, {1, 0}, {1, 2}, false, {2, 1, 4, 3},
       {0.396740573131, 0.999792900143, 0.859161814856, 0.940428962947, 0.999792900143, 0.359058354022,
        0.980589491776, 0.670229175843, 0.84479768402, 0.892011682699, 0.470071920985, 0.994826791358,
        0.281972848991, 0.964962073822, 0.96858570992, 0.806400580775, 0.993286297537, 0.607658143449,
        0.983271183916, 0.852300207508, 0.659638125451, 0.983271183916, 0.203019622135, 0.983103502904},
       {9, 12, 8, 27, 12, 15, 38, 30, 53, 45, 57, 60, 0, 12, 8, 27, 23, 15, 45, 30, 53, 45, 48, 60}},
  };
  for (const Case& c : cases) {
    auto [y, i] = max_pool2d_with_indices(x, c.k, c.s, c.p, c.d, c.ceil);
    ASSERT_EQ(y.sizes(), c.shape);
    EXPECT_TRUE(close(y, tensor(c.vals, c.shape, {DType::f64}), 1e-11, 1e-11));
    EXPECT_EQ(i.to_vector<int64_t>(), c.idx);
  }
  // gradients flow through the dilated, ceil-mode windows
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& v) { return std::vector<Tensor>{max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, {2, 2}, true)}; },
                      {grad_input({1, 2, 7, 9})}));
}
