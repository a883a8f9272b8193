// The bad-input matrix: every registered op is fed wrong ranks, wrong dtypes, mismatched
// shapes, empty and non-contiguous tensors, out-of-range indices and bad or missing attributes
// (a seeded generator). Each call must either succeed or throw deepseek::Error naming the op:
// no crash, no abort, no other exception type. A curated list adds calls that must fail.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "deepseek/ops/dispatcher.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  int64_t small(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng); }

  Shape shape() {
    Shape s(small(0, 4));
    for (auto& d : s) d = coin(0.1) ? 0 : small(1, 4);
    return s;
  }
  DType dtype() {
    static const DType all[] = {DType::f32, DType::f64, DType::i64, DType::i32, DType::b8,
                                DType::u8, DType::f16, DType::bf16};
    return all[small(0, 7)];
  }
  Tensor tensor() {
    Shape s = shape();
    DType d = dtype();
    Tensor t;
    if (is_floating(d)) t = cast(randn(s), d);
    else if (d == DType::b8) t = gt(randn(s), 0);
    else t = cast(randint(-3, 6, s), d);  // includes negative and out-of-range indices
    if (t.dim() >= 2 && coin(0.3)) t = transpose(t, 0, 1);  // non-contiguous
    if (coin(0.05)) t = empty(s, {d, kMeta});
    return t;
  }
  std::vector<int64_t> ints(int n, int64_t lo, int64_t hi) {
    std::vector<int64_t> v(n);
    for (auto& x : v) x = small(lo, hi);
    return v;
  }
  ops::Attrs attrs() {
    ops::Attrs a;
    auto maybe = [&](const char* k, ops::AttrValue v) {
      if (coin(0.6)) a.set(k, std::move(v));
    };
    maybe("dim", small(-5, 5));
    maybe("dims", ints(static_cast<int>(small(0, 3)), -4, 4));
    maybe("keepdim", coin());
    maybe("shape", ints(static_cast<int>(small(0, 3)), -2, 4));
    maybe("sizes", ints(static_cast<int>(small(0, 3)), -1, 4));
    maybe("strides", ints(static_cast<int>(small(0, 3)), -1, 4));
    maybe("offset", small(-2, 6));
    maybe("index", small(-6, 6));
    maybe("start", small(-6, 6));
    maybe("end", small(-6, 6));
    maybe("step", small(-2, 3));
    maybe("length", small(-2, 5));
    maybe("p", static_cast<double>(small(-1, 2)) * 0.75);
    maybe("eps", static_cast<double>(small(-1, 1)) * 1e-5);
    maybe("value", 1.5);
    maybe("alpha", small(-2, 2));
    maybe("exponent", 2.0);
    maybe("stride", ints(static_cast<int>(small(0, 3)), -1, 3));
    maybe("padding", ints(static_cast<int>(small(0, 3)), -1, 3));
    maybe("dilation", ints(static_cast<int>(small(0, 3)), -1, 3));
    maybe("kernel", ints(static_cast<int>(small(0, 3)), -1, 3));
    maybe("output_size", ints(static_cast<int>(small(0, 3)), -1, 3));
    maybe("groups", small(-1, 3));
    maybe("k", small(-1, 5));
    maybe("num_classes", small(-2, 5));
    maybe("diagonal", small(-3, 3));
    maybe("repeats", ints(static_cast<int>(small(0, 4)), -1, 3));
    maybe("shifts", ints(static_cast<int>(small(0, 2)), -3, 3));
    maybe("split_size", small(-1, 3));
    maybe("chunks", small(-1, 3));
    maybe("reduction", std::string(coin() ? "mean" : "bogus"));
    maybe("mode", std::string(coin() ? "constant" : "bogus"));
    maybe("approximate", std::string(coin() ? "none" : "bogus"));
    maybe("dtype", std::string(coin() ? "f32" : "i4"));
    maybe("device", std::string(coin() ? "cpu" : "meta"));
    maybe("low", small(-2, 2));
    maybe("high", small(-2, 2));
    maybe("seed", small(0, 100));
    return a;
  }
};

}  // namespace

TEST(BadInputMatrix, EveryOpThrowsNamedErrorsAndNeverCrashes) {
  Gen g(20261129);
  manual_seed(1);
  int ops_seen = 0, calls = 0, errors = 0;
  for (const auto& def : ops::Registry::get().all()) {
    if (!def.infer) continue;
    ++ops_seen;
    for (int trial = 0; trial < 60; ++trial) {
      int n = def.num_inputs >= 0 ? static_cast<int>(def.num_inputs) : static_cast<int>(g.small(0, 4));
      if (g.coin(0.15)) n += static_cast<int>(g.small(-1, 1));  // wrong arity
      if (n < 0) n = 0;
      std::vector<Tensor> in;
      for (int i = 0; i < n; ++i) in.push_back(g.coin(0.03) ? Tensor() : g.tensor());
      ops::Attrs attrs = g.attrs();
      if (def.random) {  // random ops need a generator range; keep sizes small
        attrs.set("seed", ops::AttrValue(int64_t{1})).set("offset", ops::AttrValue(int64_t{0}));
      }
      ++calls;
      try {
        ops::dispatch(def.id, in, attrs);
      } catch (const Error& e) {
        ++errors;
        std::string msg = e.what();
        ASSERT_NE(msg.find("[" + def.name + "]"), std::string::npos)
            << "error from op " << def.name << " does not name it: " << msg;
      } catch (const std::exception& e) {
        FAIL() << "op " << def.name << " threw a non-deepseek exception: " << e.what();
      }
    }
  }
  EXPECT_GT(ops_seen, 40);
  EXPECT_GT(errors, calls / 4);  // the generator mostly produces invalid calls
}

TEST(BadInputMatrix, CuratedCallsFailWithTheOpsName) {
  Tensor m = ones({2, 3});
  EXPECT_OP_ERROR("view", view(m, {4}));
  EXPECT_OP_ERROR("view", view(m, {-1, -1}));
  EXPECT_OP_ERROR("permute", permute(m, {0}));
  EXPECT_OP_ERROR("permute", permute(m, {0, 0}));
  EXPECT_OP_ERROR("expand", expand(m, {3, 3}));
  EXPECT_OP_ERROR("select", select(m, 0, 5));
  EXPECT_OP_ERROR("slice", slice(m, 0, 0, 2, 0));
  EXPECT_OP_ERROR("as_strided", as_strided(m, {10}, {1}, 0));
  EXPECT_OP_ERROR("cast", cast(m, DType::i4));
  EXPECT_OP_ERROR("gather", gather(m, 1, tensor_i64({5, 0, 0, 0, 0, 0}, {2, 3})));
  EXPECT_OP_ERROR("gather", gather(m, 1, ones({2, 3})));
  EXPECT_OP_ERROR("scatter_add", scatter_add(m, 0, tensor_i64({-9}, {1, 1}), ones({1, 1})));
  EXPECT_OP_ERROR("full", full({2, -1}, 0));
  EXPECT_OP_ERROR("copy", copy_(m, ones({4})));
}
