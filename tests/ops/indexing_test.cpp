// Shape, indexing, sort and extra reduction ops: forward against PyTorch
// (tests/fixtures/indexing.json, made by gen_indexing.py), the same calls on non-contiguous
// inputs, closed-form checks, meta tensors, and bad inputs that must raise an Error naming
// the op.
#include <cmath>
#include <map>

#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {

using Outs = std::vector<Tensor>;
using Fn = std::function<Outs(const std::vector<Tensor>&)>;

Outs tup(const std::tuple<Tensor, Tensor>& t) { return {std::get<0>(t), std::get<1>(t)}; }

const std::map<std::string, Fn>& functions() {
  static const std::map<std::string, Fn> fns = {
      {"cat_1", [](auto& v) { return Outs{cat({v[0], v[1]}, 1)}; }},
      {"cat_neg2", [](auto& v) { return Outs{cat({v[0], v[1]}, -2)}; }},
      {"cat_0", [](auto& v) { return Outs{cat({v[0], v[1]}, 0)}; }},
      {"stack_1", [](auto& v) { return Outs{stack({v[0], v[1]}, 1)}; }},
      {"stack_neg1", [](auto& v) { return Outs{stack({v[0], v[1]}, -1)}; }},
      {"split_2", [](auto& v) { return split(v[0], 2, 0); }},
      {"split_sizes", [](auto& v) { return split_with_sizes(v[0], {1, 3}, 1); }},
      {"chunk_3", [](auto& v) { return chunk(v[0], 3, 1); }},
      {"chunk_neg", [](auto& v) { return chunk(v[0], 2, -2); }},
      {"pad_constant", [](auto& v) { return Outs{pad(v[0], {1, 2, 0, 1}, "constant", 0.5)}; }},
      {"pad_constant_neg", [](auto& v) { return Outs{pad(v[0], {-1, 1, 2, -1})}; }},
      {"pad_reflect", [](auto& v) { return Outs{pad(v[0], {3, 1, 2, 2}, "reflect")}; }},
      {"pad_replicate", [](auto& v) { return Outs{pad(v[0], {1, 3, 2, 0}, "replicate")}; }},
      {"pad_circular", [](auto& v) { return Outs{pad(v[0], {2, 1, 1, 3}, "circular")}; }},
      {"pad_reflect1d", [](auto& v) { return Outs{pad(v[0], {2, 3}, "reflect")}; }},
      {"flip", [](auto& v) { return Outs{flip(v[0], {0, 2})}; }},
      {"flip_neg", [](auto& v) { return Outs{flip(v[0], {-1})}; }},
      {"roll", [](auto& v) { return Outs{roll(v[0], {1, -2}, {0, 2})}; }},
      {"roll_flat", [](auto& v) { return Outs{roll(v[0], {3}, {})}; }},
      {"roll_neg_dim", [](auto& v) { return Outs{roll(v[0], {5}, {-2})}; }},
      {"repeat", [](auto& v) { return Outs{repeat(v[0], {2, 1, 3})}; }},
      {"repeat_same", [](auto& v) { return Outs{repeat(v[0], {3, 2})}; }},
      {"tril", [](auto& v) { return Outs{tril(v[0])}; }},
      {"tril_1", [](auto& v) { return Outs{tril(v[0], 1)}; }},
      {"triu_neg1", [](auto& v) { return Outs{triu(v[0], -1)}; }},
      {"triu_2", [](auto& v) { return Outs{triu(v[0], 2)}; }},
      {"index_select_1", [](auto& v) { return Outs{index_select(v[0], 1, v[1])}; }},
      {"index_select_0", [](auto& v) { return Outs{index_select(v[0], 0, v[1])}; }},
      {"index_add_0", [](auto& v) { return Outs{index_add(v[0], 0, v[1], v[2])}; }},
      {"index_add_1", [](auto& v) { return Outs{index_add(v[0], 1, v[1], v[2])}; }},
      {"masked_fill", [](auto& v) { return Outs{masked_fill(v[0], v[1], -1.5)}; }},
      {"masked_fill_bcast", [](auto& v) { return Outs{masked_fill(v[0], v[1], 2.0)}; }},
      {"masked_select", [](auto& v) { return Outs{masked_select(v[0], v[1])}; }},
      {"masked_select_bcast", [](auto& v) { return Outs{masked_select(v[0], v[1])}; }},
      {"index_2", [](auto& v) { return Outs{index(v[0], {v[1], v[2]})}; }},
      {"index_1", [](auto& v) { return Outs{index(v[0], {v[1]})}; }},
      {"index_bool", [](auto& v) { return Outs{index(v[0], {v[1]})}; }},
      {"index_put", [](auto& v) {
         return Outs{index_put(v[0], {v[1], v[2]}, index_select(v[3], 0, tensor_i64({0, 1, 0, 3})))};
       }},
      {"index_put_acc", [](auto& v) { return Outs{index_put(v[0], {v[1], v[2]}, v[3], true)}; }},
      {"index_put_rows", [](auto& v) { return Outs{index_put(v[0], {v[1]}, v[2])}; }},
      {"one_hot_5", [](auto& v) { return Outs{one_hot(v[0], 5)}; }},
      {"one_hot_infer", [](auto& v) { return Outs{one_hot(v[0])}; }},
      {"sort", [](auto& v) { return tup(sort(v[0], 1)); }},
      {"sort_desc", [](auto& v) { return tup(sort(v[0], 1, true)); }},
      {"sort_0", [](auto& v) { return tup(sort(v[0], 0)); }},
      {"topk", [](auto& v) { return tup(topk(v[0], 3, 1)); }},
      {"topk_small", [](auto& v) { return tup(topk(v[0], 2, 1, false)); }},
      {"topk_0", [](auto& v) { return tup(topk(v[0], 2, 0)); }},
      {"nonzero", [](auto& v) { return Outs{nonzero(v[0])}; }},
      {"var_1", [](auto& v) { return Outs{var(v[0], {1})}; }},
      {"var_all_c0", [](auto& v) { return Outs{var(v[0], {}, 0)}; }},
      {"var_02_keep", [](auto& v) { return Outs{var(v[0], {0, 2}, 1, true)}; }},
      {"std_1", [](auto& v) { return Outs{deepseek::std(v[0], {1})}; }},
      {"std_neg1_c0", [](auto& v) { return Outs{deepseek::std(v[0], {-1}, 0)}; }},
      {"norm_2", [](auto& v) { return Outs{norm(v[0], 2, {1})}; }},
      {"norm_1", [](auto& v) { return Outs{norm(v[0], 1, {1})}; }},
      {"norm_inf", [](auto& v) { return Outs{norm(v[0], INFINITY, {1})}; }},
      {"norm_ninf", [](auto& v) { return Outs{norm(v[0], -INFINITY, {1})}; }},
      {"norm_3", [](auto& v) { return Outs{norm(v[0], 3, {1})}; }},
      {"norm_half", [](auto& v) { return Outs{norm(v[0], 0.5, {1})}; }},
      {"norm_0", [](auto& v) { return Outs{norm(v[0], 0, {1})}; }},
      {"norm_all", [](auto& v) { return Outs{norm(v[0])}; }},
      {"norm_02_keep", [](auto& v) { return Outs{norm(v[0], 2, {0, 2}, true)}; }},
      {"logsumexp_2", [](auto& v) { return Outs{logsumexp(v[0], {2})}; }},
      {"logsumexp_12_keep", [](auto& v) { return Outs{logsumexp(v[0], {1, 2}, true)}; }},
      {"cumsum_1", [](auto& v) { return Outs{cumsum(v[0], 1)}; }},
      {"cumsum_neg1", [](auto& v) { return Outs{cumsum(v[0], -1)}; }},
      {"cumsum_int", [](auto& v) { return Outs{cumsum(v[0], 0)}; }},
  };
  return fns;
}

// Same values, non-contiguous strides (the last and first dims swapped in memory).
Tensor strided(const Tensor& x) {
  if (x.dim() < 2) return x;
  return transpose(contiguous(transpose(x, 0, -1)), 0, -1);
}

void check_case(const nlohmann::json& c, bool non_contiguous) {
  std::string op = c["op"];
  auto it = functions().find(op);
  ASSERT_NE(it, functions().end()) << "no C++ call for fixture case " << op;
  std::vector<Tensor> in;
  for (auto& j : c["inputs"]) in.push_back(tensor_from_json(j));
  if (non_contiguous) {
    in[0] = strided(in[0]);
    if (in[0].dim() >= 2) EXPECT_FALSE(in[0].is_contiguous()) << op;
  }
  Outs out = it->second(in);
  ASSERT_EQ(out.size(), c["outputs"].size()) << op;
  for (size_t i = 0; i < out.size(); ++i) {
    Tensor e = tensor_from_json(c["outputs"][i]);
    EXPECT_EQ(out[i].dtype(), e.dtype()) << op << " output " << i;
    EXPECT_TRUE(close(out[i], e, 1e-10, 1e-12)) << op << " output " << i
                                                 << (non_contiguous ? " (non-contiguous input)" : "");
  }
}

}  // namespace

TEST(IndexingFixtures, MatchPyTorch) {
  auto j = load_fixture("indexing.json");
  ASSERT_GT(j["cases"].size(), 60u);
  for (auto& c : j["cases"]) check_case(c, false);
}

TEST(IndexingFixtures, NonContiguousInputsMatchPyTorch) {
  auto j = load_fixture("indexing.json");
  for (auto& c : j["cases"]) check_case(c, true);
}

TEST(Indexing, CatPromotesAndSkipsLegacyEmpty) {
  Tensor a = tensor({1, 2}, {2}, {DType::i32});
  Tensor b = tensor({0.5}, {1}, {DType::f32});
  Tensor r = cat({a, b});
  EXPECT_EQ(r.dtype(), DType::f32);
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{1, 2, 0.5}));
  Tensor m = ones({2, 3});
  Tensor r2 = cat({m, empty({0}), m}, 1);
  EXPECT_EQ(r2.sizes(), (Shape{2, 6}));
}

TEST(Indexing, SplitChunkAreViewsAndCoverTheInput) {
  Tensor x = arange(10, {DType::f32});
  auto parts = chunk(x, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].to_vector<double>(), (std::vector<double>{8, 9}));
  EXPECT_EQ(parts[1].storage(), x.storage());
  EXPECT_EQ(split(x, 4).size(), 3u);
}

TEST(Indexing, SortIsStableAndNaNGoesLast) {
  Tensor x = tensor({2, NAN, 1, 2, 1, NAN, 0});
  auto [v, i] = sort(x);
  auto iv = i.to_vector<int64_t>();
  EXPECT_EQ(iv, (std::vector<int64_t>{6, 2, 4, 0, 3, 1, 5}));
  auto [vd, id] = sort(x, 0, true);
  EXPECT_EQ(id.to_vector<int64_t>(), (std::vector<int64_t>{1, 5, 0, 3, 2, 4, 6}));
  auto [tv, ti] = topk(x, 2);
  EXPECT_EQ(ti.to_vector<int64_t>(), (std::vector<int64_t>{1, 5}));
}

TEST(Indexing, TopkOfLargeRowsMatchesSort) {
  Tensor x = randn({4, 1000});
  auto [tv, ti] = topk(x, 17, 1);
  auto [sv, si] = sort(x, 1, true);
  EXPECT_TRUE(close(tv, slice(sv, 1, 0, 17), 0, 0));
  EXPECT_TRUE(equal(ti, slice(si, 1, 0, 17)));
}

TEST(Indexing, IndexPutAccumulatesDuplicatesAndWritesIntoStridedTensors) {
  Tensor x = strided(zeros({3, 4}, {DType::f64}));
  Tensor idx = tensor_i64({1, 1, 1, 2, 1});
  Tensor r = index_put(x, {idx}, ones({4}, {DType::f64}), true);
  auto v = r.to_vector<double>();
  EXPECT_EQ(v[4], 4.0);
  EXPECT_EQ(v[8], 1.0);
  EXPECT_EQ(v[0], 0.0);
  Tensor y = index_add(zeros({3}, {DType::f64}), 0, idx, ones({5}, {DType::f64}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 4, 1}));
}

TEST(Indexing, CumsumLargeMatchesClosedForm) {
  Tensor x = ones({3, 5000, 7}, {DType::f32});
  Tensor c = cumsum(x, 1);
  EXPECT_EQ(c.to_vector<double>()[(2 * 5000 + 4999) * 7 + 6], 5000.0);
  Tensor c2 = cumsum(transpose(x, 1, 2), 2);  // scanned dim strided
  EXPECT_EQ(c2.to_vector<double>()[(2 * 7 + 6) * 5000 + 4999], 5000.0);
}

TEST(Indexing, StableReductionsOnLargeOffsets) {
  // var of values with a big common offset: a naive E[x²]-E[x]² loses every digit in f32.
  Tensor x = add(tensor({1, 2, 3, 4}, {4}, {DType::f32}), 1e4);
  EXPECT_NEAR(var(x).item<double>(), 5.0 / 3.0, 1e-3);
  Tensor big = tensor({1000, 1000, -INFINITY});
  EXPECT_NEAR(logsumexp(big, {0}).item<double>(), 1000 + std::log(2.0), 1e-4);
  EXPECT_EQ(logsumexp(tensor({-INFINITY, -INFINITY}), {0}).item<double>(), -INFINITY);
}

TEST(Indexing, MetaTensorsPropagateShapesOrRefuse) {
  TensorOptions meta(DType::f32, kMeta);
  Tensor a = empty({2, 3}, meta), b = empty({2, 5}, meta);
  EXPECT_EQ(cat({a, b}, 1).sizes(), (Shape{2, 8}));
  EXPECT_EQ(pad(a, {1, 1, 1, 0}, "reflect").sizes(), (Shape{3, 5}));
  EXPECT_EQ(std::get<1>(topk(b, 2)).sizes(), (Shape{2, 2}));
  EXPECT_EQ(index(a, {empty({7}, TensorOptions(DType::i64, kMeta))}).sizes(), (Shape{7, 3}));
  EXPECT_EQ(norm(a, 2, {1}).sizes(), (Shape{2}));
  Tensor mask = empty({2, 3}, TensorOptions(DType::b8, kMeta));
  EXPECT_OP_ERROR("masked_select", masked_select(a, mask));
  EXPECT_OP_ERROR("nonzero", nonzero(a));
  EXPECT_OP_ERROR("one_hot", one_hot(empty({3}, TensorOptions(DType::i64, kMeta))));
}

TEST(Indexing, BadInputsNameTheOp) {
  Tensor x = ones({3, 4});
  Tensor i64v = tensor_i64({0, 1});
  EXPECT_OP_ERROR("cat", cat({}));
  EXPECT_OP_ERROR("cat", cat({x, ones({3})}, 0));
  EXPECT_OP_ERROR("cat", cat({x, ones({2, 5})}, 0));
  EXPECT_OP_ERROR("cat", cat({x, x}, 2));
  EXPECT_OP_ERROR("cat", cat({ones({}), ones({})}));
  EXPECT_OP_ERROR("stack", stack({x, ones({4, 3})}));
  EXPECT_OP_ERROR("stack", stack({x}, 3));
  EXPECT_OP_ERROR("split", split(x, -1));
  EXPECT_OP_ERROR("split_with_sizes", split_with_sizes(x, {1, 1}));
  EXPECT_OP_ERROR("chunk", chunk(x, 0));
  EXPECT_OP_ERROR("chunk", chunk(x, 2, 5));
  EXPECT_OP_ERROR("pad", pad(x, {1}));
  EXPECT_OP_ERROR("pad", pad(x, {1, 1}, "wrap"));
  EXPECT_OP_ERROR("pad", pad(x, {4, 0}, "reflect"));
  EXPECT_OP_ERROR("pad", pad(x, {1, 1, 1, 1, 1, 1}));
  EXPECT_OP_ERROR("pad", pad(x, {-1, 0}, "replicate"));
  EXPECT_OP_ERROR("pad", pad(x, {-3, -3}));
  EXPECT_OP_ERROR("flip", flip(x, {0, 0}));
  EXPECT_OP_ERROR("flip", flip(x, {2}));
  EXPECT_OP_ERROR("roll", roll(x, {1, 2}, {0}));
  EXPECT_OP_ERROR("roll", roll(x, {1}, {3}));
  EXPECT_OP_ERROR("repeat", repeat(x, {2}));
  EXPECT_OP_ERROR("repeat", repeat(x, {2, -1}));
  EXPECT_OP_ERROR("tril", tril(ones({3})));
  EXPECT_OP_ERROR("triu", triu(ones({})));
  EXPECT_OP_ERROR("index_select", index_select(x, 0, tensor({0, 1})));
  EXPECT_OP_ERROR("index_select", index_select(x, 0, tensor_i64({0, 3})));
  EXPECT_OP_ERROR("index_select", index_select(x, 0, tensor_i64({-4})));
  EXPECT_OP_ERROR("index_select", index_select(x, 2, i64v));
  EXPECT_OP_ERROR("index_select", index_select(x, 0, reshape(tensor_i64({0, 1, 0, 1}), {2, 2})));
  EXPECT_OP_ERROR("index_add", index_add(x, 0, i64v, ones({3, 4})));
  EXPECT_OP_ERROR("index_add", index_add(x, 0, tensor_i64({0, 7}), ones({2, 4})));
  EXPECT_OP_ERROR("masked_fill", masked_fill(x, ones({4}), 1.0));
  EXPECT_OP_ERROR("masked_fill", masked_fill(x, ones({5}, {DType::b8}), 1.0));
  EXPECT_OP_ERROR("masked_select", masked_select(x, ones({3, 4})));
  EXPECT_OP_ERROR("index", index(x, {tensor({0.0})}));
  EXPECT_OP_ERROR("index", index(x, {i64v, i64v, i64v}));
  EXPECT_OP_ERROR("index", index(x, {tensor_i64({5})}));
  EXPECT_OP_ERROR("index", index(x, {tensor_i64({0, 1, 2}), i64v}));
  EXPECT_OP_ERROR("index", index(x, {ones({2}, {DType::b8})}));
  EXPECT_OP_ERROR("index", index(x, {}));
  EXPECT_OP_ERROR("index_put", index_put(x, {i64v}, ones({3})));
  EXPECT_OP_ERROR("index_put", index_put(x, {tensor_i64({3})}, ones({4})));
  EXPECT_OP_ERROR("one_hot", one_hot(tensor({1.0})));
  EXPECT_OP_ERROR("one_hot", one_hot(tensor_i64({3}), 3));
  EXPECT_OP_ERROR("one_hot", one_hot(tensor_i64({-1}), 3));
  EXPECT_OP_ERROR("one_hot", one_hot(tensor_i64({1}), -2));
  EXPECT_OP_ERROR("topk", topk(x, 5));
  EXPECT_OP_ERROR("topk", topk(x, -1));
  EXPECT_OP_ERROR("topk", topk(x, 1, 2));
  EXPECT_OP_ERROR("sort", sort(x, -3));
  EXPECT_OP_ERROR("var", var(ones({3}, {DType::i64})));
  EXPECT_OP_ERROR("var", var(x, {2}));
  EXPECT_OP_ERROR("std", deepseek::std(x, {0, 0}));
  EXPECT_OP_ERROR("norm", norm(ones({3}, {DType::i32})));
  EXPECT_OP_ERROR("norm", norm(x, 2, {5}));
  EXPECT_OP_ERROR("norm", norm(ones({0, 3}), INFINITY, {0}));
  EXPECT_OP_ERROR("logsumexp", logsumexp(x, {2}));
  EXPECT_OP_ERROR("cumsum", cumsum(x, 2));
}

TEST(Indexing, FailedKernelsLeaveNoPartialWrites) {
  Tensor x = zeros({4});
  try {
    index_put(x, {tensor_i64({0, 9})}, ones({2}), true);
  } catch (const Error&) {
  }
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{0, 0, 0, 0}));
}

TEST(Indexing, NormOfOneLongRowSplitsOverThreads) {
  Tensor x = ones({1 << 20}, {DType::f64});
  EXPECT_NEAR(norm(x).item<double>(), 1024.0, 1e-9);
  EXPECT_NEAR(norm(x, 1).item<double>(), double(1 << 20), 1e-6);
  EXPECT_NEAR(norm(x, 4).item<double>(), 32.0, 1e-9);
  EXPECT_EQ(norm(x, 0).item<double>(), double(1 << 20));
  Tensor y = index_put(x, {tensor_i64({777777})}, full({}, -5.0, {DType::f64}));
  EXPECT_EQ(norm(y, INFINITY).item<double>(), 5.0);
  EXPECT_EQ(norm(y, -INFINITY).item<double>(), 1.0);
  Tensor z = index_put(x, {tensor_i64({900000})}, full({}, NAN, {DType::f64}));
  EXPECT_TRUE(std::isnan(norm(z, INFINITY).item<double>()));
  EXPECT_TRUE(std::isnan(norm(z).item<double>()));
}

TEST(Indexing, FlipAndPadRunsOnWideRows) {
  Tensor x = reshape(arange(2 * 300, {DType::f32}), {2, 300});
  auto f = flip(x, {1}).to_vector<double>();
  EXPECT_EQ(f[0], 299.0);
  EXPECT_EQ(f[599], 300.0);
  Tensor s = slice(x, 1, 0, 300, 3);  // strided source rows: runs of step 3
  auto fs = flip(s, {1}).to_vector<double>();
  EXPECT_EQ(fs[0], 297.0);
  EXPECT_EQ(fs[99], 0.0);
  auto p = pad(x, {2, 2}, "reflect").to_vector<double>();
  EXPECT_EQ((std::vector<double>(p.begin(), p.begin() + 5)), (std::vector<double>{2, 1, 0, 1, 2}));
  EXPECT_EQ(p[302], 298.0);
  EXPECT_EQ(p[303], 297.0);
}
