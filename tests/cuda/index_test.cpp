// CUDA indexing kernels against the CPU: index_select, gather, scatter, scatter_add, index_add,
// masked_fill, masked_select, nonzero, index, index_put (with accumulate), one_hot and
// embedding (+ its backward). Several shapes and dims, negative and duplicate indices (scatters
// resolve duplicates as the CPU does: last write wins, sums in index order), i32 and i64
// indices, non-contiguous operands (made inside the function, since copies to the device are
// contiguous), every element width, 0-d and empty tensors, gradients, and out-of-range indices
// that must raise an Error naming the op (and leave the device usable).
#include <cmath>

#include "tests/cuda/exact_test_util.h"

namespace deepseek::testing {
namespace {

// Indices in [-n, n) (negative ones too), as i64 or i32.
Tensor indices(int64_t n, const Shape& s, DType t = DType::i64, bool negative = true) {
  return randint(negative ? -n : 0, n, s).to(t);
}

TEST(CudaIndex, IndexSelect) {
  DS_REQUIRE_CUDA();
  manual_seed(1);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({5, 7, 6}, t);
    for (int64_t d : {0, 1, 2, -1}) {
      int64_t n = x.sizes()[d < 0 ? d + 3 : d];
      for (DType it : {DType::i64, DType::i32}) {
        Tensor idx = indices(n, {9}, it);  // duplicates and negatives
        expect_exact([d](auto& v) { return Outs{index_select(v[0], d, v[1])}; }, {x, idx},
                     std::string(dtype_name(t)) + " dim " + std::to_string(d));
        // non-contiguous input and a strided index
        expect_exact([d](auto& v) { return Outs{index_select(v[0].transpose(0, 2), d, slice(v[1], 0, 0, 9, 2))}; },
                     {x, indices(x.sizes()[2 - (d < 0 ? d + 3 : d)], {9}, it)}, "strided");
      }
    }
  }
  Tensor x = randn({4, 3});
  expect_exact([](auto& v) { return Outs{index_select(v[0], 1, v[1])}; }, {x, tensor_i64({2})});       // 1 index
  expect_exact([](auto& v) { return Outs{index_select(v[0], 0, v[1])}; }, {x, tensor_i64({}, {0})});   // empty
  expect_exact([](auto& v) { return Outs{index_select(v[0], 0, v[1])}; }, {x, full({}, -1, {DType::i64})});  // 0-d index
  expect_exact([](auto& v) { return Outs{index_select(v[0], 0, v[1])}; }, {full({}, 2.5), tensor_i64({0})});  // 0-d input
  Tensor big = randn({300, 129});
  expect_exact([](auto& v) { return Outs{index_select(v[0], 0, v[1])}; }, {big, indices(300, {1000})});
}

TEST(CudaIndex, Gather) {
  DS_REQUIRE_CUDA();
  manual_seed(2);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({4, 5, 6}, t);
    for (int64_t d : {0, 1, 2, -2}) {
      int64_t n = x.sizes()[d < 0 ? d + 3 : d];
      for (DType it : {DType::i64, DType::i32}) {
        Tensor idx = indices(n, {3, 4, 5}, it);
        expect_exact([d](auto& v) { return Outs{gather(v[0], d, v[1])}; }, {x, idx},
                     std::string(dtype_name(t)) + " dim " + std::to_string(d));
      }
    }
  }
  // non-contiguous input and index; index larger than the input along dim
  Tensor x = randn({6, 5});
  expect_exact([](auto& v) { return Outs{gather(v[0].transpose(0, 1), 1, v[1].transpose(0, 1))}; },
               {x, indices(6, {9, 4})});
  expect_exact([](auto& v) { return Outs{gather(v[0], 0, v[1])}; }, {x, indices(6, {11, 5})});
  expect_exact([](auto& v) { return Outs{gather(v[0], 1, v[1])}; }, {x, tensor_i64({}, {6, 0})});  // empty
  expect_exact([](auto& v) { return Outs{gather(v[0], 0, v[1])}; }, {full({}, 3.0), tensor_i64({0, -1, 0})});
}

TEST(CudaIndex, ScatterAndScatterAddWithDuplicates) {
  DS_REQUIRE_CUDA();
  manual_seed(3);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({4, 5, 6}, t);
    for (int64_t d : {0, 1, 2, -1}) {
      int64_t n = x.sizes()[d < 0 ? d + 3 : d];
      Tensor idx = indices(n, {4, 5, 6});  // many duplicates along dim
      Tensor src = random_values({4, 5, 7}, t);
      std::string what = std::string(dtype_name(t)) + " dim " + std::to_string(d);
      // last write wins, as on the CPU
      expect_exact([d](auto& v) { return Outs{scatter(v[0], d, v[1], v[2])}; }, {x, idx, src}, what);
      if (t != DType::b8)
        expect_exact([d](auto& v) { return Outs{scatter_add(v[0], d, v[1], v[2])}; }, {x, idx, src}, what);
    }
  }
  // non-contiguous everything, a smaller index, i32 index
  Tensor x = randn({7, 6}), src = randn({6, 7});
  Tensor idx = indices(7, {5, 3}, DType::i32);
  expect_exact([](auto& v) {
    return Outs{scatter_add(v[0], 0, v[1].transpose(0, 1), v[2].transpose(0, 1)),
                scatter(v[0].transpose(0, 1), 1, v[1].transpose(0, 1), v[2])};
  }, {x, idx, src});
  // long 1-D scatter_add into few bins: deterministic and in the CPU's order
  Tensor bins = zeros({10});
  Tensor where_to = indices(10, {20000}, DType::i64, false);
  Tensor vals = randn({20000});
  expect_exact([](auto& v) { return Outs{scatter_add(v[0], 0, v[1], v[2])}; }, {bins, where_to, vals});
  Tensor a = scatter_add(bins.to(kCuda), 0, where_to.to(kCuda), vals.to(kCuda)).to(kCPU);
  Tensor b = scatter_add(bins.to(kCuda), 0, where_to.to(kCuda), vals.to(kCuda)).to(kCPU);
  EXPECT_TRUE(close(a, b, 0, 0)) << "run to run";
  // f16 sums round every step, as on the CPU
  expect_exact([](auto& v) { return Outs{scatter_add(v[0], 0, v[1], v[2])}; },
               {bins.to(DType::f16), where_to, vals.to(DType::f16)});
  // empty index, 0-d input
  expect_exact([](auto& v) { return Outs{scatter(v[0], 1, v[1], v[2])}; }, {x, tensor_i64({}, {6, 0}), src});
  expect_exact([](auto& v) { return Outs{scatter_add(v[0], 0, v[1], v[2])}; },
               {full({}, 1.5), tensor_i64({0, -1}), tensor({2, 3}, {2})});
}

TEST(CudaIndex, IndexAdd) {
  DS_REQUIRE_CUDA();
  manual_seed(4);
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::f64, DType::i32, DType::i64, DType::u8, DType::b8}) {
    Tensor x = random_values({5, 6, 7}, t);
    for (int64_t d : {0, 1, 2, -1}) {
      int64_t n = x.sizes()[d < 0 ? d + 3 : d];
      Shape ss = x.sizes();
      ss[d < 0 ? d + 3 : d] = 11;
      Tensor idx = indices(n, {11});
      expect_exact([d](auto& v) { return Outs{index_add(v[0], d, v[1], v[2])}; }, {x, idx, random_values(ss, t)},
                   std::string(dtype_name(t)) + " dim " + std::to_string(d));
    }
  }
  Tensor x = randn({6, 5}), src = randn({5, 4});
  expect_exact([](auto& v) { return Outs{index_add(v[0].transpose(0, 1), 1, v[1], v[2])}; },
               {x, indices(6, {4}, DType::i32), src});
  expect_exact([](auto& v) { return Outs{index_add(v[0], 0, v[1], v[2])}; },
               {x, full({}, -2, {DType::i64}), randn({5})});  // 0-d index
  expect_exact([](auto& v) { return Outs{index_add(v[0], 1, v[1], v[2])}; }, {x, tensor_i64({}, {0}), zeros({6, 0})});
  // long 1-D accumulation into few rows (sorted per row, index order)
  expect_exact([](auto& v) { return Outs{index_add(v[0], 0, v[1], v[2])}; },
               {zeros({3, 2}), indices(3, {5000}), randn({5000, 2})});
}

TEST(CudaIndex, MaskedFill) {
  DS_REQUIRE_CUDA();
  manual_seed(5);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({4, 5, 6}, t);
    Tensor m = gt(randn({4, 5, 6}), 0.3);
    Tensor mb = gt(randn({5, 1}), 0.0);  // broadcast
    Scalar v = t == DType::b8 ? Scalar(true) : (is_floating(t) ? Scalar(-2.5) : Scalar(int64_t{7}));
    expect_exact([v](auto& in) { return Outs{masked_fill(in[0], in[1], v)}; }, {x, m}, dtype_name(t));
    expect_exact([v](auto& in) { return Outs{masked_fill(in[0], in[1], v)}; }, {x, mb}, dtype_name(t));
    expect_exact([v](auto& in) { return Outs{masked_fill(in[0].transpose(0, 2), in[1].transpose(0, 2), v)}; }, {x, m});
  }
  expect_exact([](auto& in) { return Outs{masked_fill(in[0], in[1], NAN)}; }, {randn({3, 3}), gt(randn({3, 3}), 0.0)});
  expect_exact([](auto& in) { return Outs{masked_fill(in[0], in[1], 1.0)}; }, {randn({0, 3}), gt(randn({3}), 0.0)});
}

TEST(CudaIndex, MaskedSelect) {
  DS_REQUIRE_CUDA();
  manual_seed(6);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({4, 5, 6}, t);
    expect_exact([](auto& in) { return Outs{masked_select(in[0], in[1])}; }, {x, gt(randn({4, 5, 6}), 0.0)},
                 dtype_name(t));
    expect_exact([](auto& in) { return Outs{masked_select(in[0], in[1])}; }, {x, gt(randn({5, 1}), 0.0)});
    expect_exact([](auto& in) { return Outs{masked_select(in[0].transpose(1, 2), in[1])}; },
                 {x, gt(randn({6, 5}), 0.0)});
  }
  Tensor x = randn({3, 4});
  expect_exact([](auto& in) { return Outs{masked_select(in[0], in[1])}; }, {x, full({3, 4}, false, {DType::b8})});
  expect_exact([](auto& in) { return Outs{masked_select(in[0], in[1])}; }, {x, full({}, true, {DType::b8})});
  expect_exact([](auto& in) { return Outs{masked_select(in[0], in[1])}; }, {randn({200, 300}), gt(randn({200, 300}), 1.0)});
}

TEST(CudaIndex, Nonzero) {
  DS_REQUIRE_CUDA();
  manual_seed(7);
  for (DType t : kEveryWidth) {
    Tensor x = mul(gt(randn({4, 5, 6}), 0.5).to(t), random_values({4, 5, 6}, t));
    expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {x}, dtype_name(t));
    expect_exact([](auto& in) { return Outs{nonzero(in[0].transpose(0, 2))}; }, {x}, dtype_name(t));
  }
  // NaN is nonzero, -0.0 is zero
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {tensor({0, NAN, -0.0, 1, 0, -2}, {2, 3})});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {tensor({0, NAN, -0.0, 1}, {4}).to(DType::bf16)});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {zeros({3, 4})});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {zeros({0, 4})});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {full({}, 2.0)});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {full({}, 0.0)});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {gt(randn({2, 3, 1, 4, 2, 3}), 0.0)});
  expect_exact([](auto& in) { return Outs{nonzero(in[0])}; }, {gt(randn({100000}), 0.0)});
}

TEST(CudaIndex, AdvancedIndex) {
  DS_REQUIRE_CUDA();
  manual_seed(8);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({5, 6, 7}, t);
    expect_exact([](auto& v) { return Outs{index(v[0], {v[1]})}; }, {x, indices(5, {3, 4})}, dtype_name(t));
    expect_exact([](auto& v) { return Outs{index(v[0], {v[1], v[2]})}; },
                 {x, indices(5, {4, 1}), indices(6, {3}, DType::i32)}, dtype_name(t));  // broadcast
    expect_exact([](auto& v) { return Outs{index(v[0], {v[1], v[2], v[3]})}; },
                 {x, indices(5, {8}), indices(6, {8}), indices(7, {1})}, dtype_name(t));
  }
  Tensor x = randn({5, 6, 7});
  expect_exact([](auto& v) { return Outs{index(v[0].transpose(0, 2), {v[1]})}; }, {x, indices(7, {10})});
  expect_exact([](auto& v) { return Outs{index(v[0], {v[1]})}; }, {x, gt(randn({5}), 0.0)});        // bool mask
  expect_exact([](auto& v) { return Outs{index(v[0], {v[1]})}; }, {x, gt(randn({5, 6}), 0.0)});     // 2-D mask
  expect_exact([](auto& v) { return Outs{index(v[0], {v[1]})}; }, {x, tensor_i64({}, {0})});        // empty
  expect_exact([](auto& v) { return Outs{index(v[0], {v[1]})}; }, {x, full({}, -1, {DType::i64})}); // 0-d
}

TEST(CudaIndex, IndexPut) {
  DS_REQUIRE_CUDA();
  manual_seed(9);
  for (DType t : kEveryWidth) {
    Tensor x = random_values({5, 6, 7}, t);
    Tensor i0 = indices(5, {12}), i1 = indices(6, {12});  // duplicate positions
    for (bool acc : {false, true}) {
      if (acc && t == DType::b8) continue;
      std::string what = std::string(dtype_name(t)) + (acc ? " accumulate" : "");
      expect_exact([acc](auto& v) { return Outs{index_put(v[0], {v[1]}, v[2], acc)}; },
                   {x, i0, random_values({12, 6, 7}, t)}, what);
      expect_exact([acc](auto& v) { return Outs{index_put(v[0], {v[1], v[2]}, v[3], acc)}; },
                   {x, i0, i1, random_values({7}, t)}, what);  // values broadcast
      expect_exact([acc](auto& v) { return Outs{index_put(v[0], {v[1]}, v[2], acc)}; },
                   {x, gt(randn({5, 6}), 0.0), random_values({}, t)}, what);  // bool mask, scalar value
    }
  }
  Tensor x = randn({6, 5});
  expect_exact([](auto& v) { return Outs{index_put(v[0].transpose(0, 1), {v[1]}, v[2], true)}; },
               {x, indices(5, {9}, DType::i32), randn({9, 6})});
  expect_exact([](auto& v) { return Outs{index_put(v[0], {v[1]}, v[2], true)}; },
               {zeros({4}), indices(4, {30000}), randn({30000})});  // long accumulation, CPU order
  expect_exact([](auto& v) { return Outs{index_put(v[0], {v[1]}, v[2], false)}; }, {x, tensor_i64({}, {0}), randn({5})});
}

TEST(CudaIndex, OneHot) {
  DS_REQUIRE_CUDA();
  manual_seed(10);
  Tensor l = randint(0, 7, {4, 5});
  expect_exact([](auto& v) { return Outs{one_hot(v[0], 7)}; }, {l});
  expect_exact([](auto& v) { return Outs{one_hot(v[0], 10)}; }, {l.to(DType::i32)});
  expect_exact([](auto& v) { return Outs{one_hot(v[0])}; }, {l});  // num_classes inferred on the host
  expect_exact([](auto& v) { return Outs{one_hot(v[0].transpose(0, 1), 7)}; }, {l});
  expect_exact([](auto& v) { return Outs{one_hot(v[0], 3)}; }, {tensor_i64({}, {0})});
  expect_exact([](auto& v) { return Outs{one_hot(v[0], 3)}; }, {full({}, 2, {DType::i64})});
}

TEST(CudaIndex, Embedding) {
  DS_REQUIRE_CUDA();
  manual_seed(11);
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    Tensor w = randn({50, 24}).to(t);
    Tensor idx = randint(0, 50, {6, 40});
    expect_exact([](auto& v) { return Outs{embedding(v[0], v[1])}; }, {w, idx}, dtype_name(t));
    expect_exact([](auto& v) { return Outs{embedding(v[0], v[1])}; }, {w, idx.to(DType::i32)}, dtype_name(t));
    expect_exact([](auto& v) { return Outs{embedding(v[0], v[1])}; }, {w, full({}, 3, {DType::i64})});
    // gradients: many repeated rows (sums in index order, opmath accumulation), padding_idx
    expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0], v[1]); }, {w, idx});
    expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0], v[1], 3); }, {w, randint(0, 5, {7, 300})});
    expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0].transpose(0, 1), v[1]); },
                                {randn({24, 50}).to(t), idx.to(DType::i32)});
  }
  // Long destinations (BERT's token types: every position reads row 0) are summed in pieces,
  // in parallel: a fixed order other than the CPU's, so equal to rounding. One row of 16k
  // items, and rows that start and end inside pieces.
  expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0], v[1]); },
                              {randn({2, 64}), zeros({4, 4096}, {DType::i64})}, 1e-5, 1e-4);
  expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0], v[1], 1); },
                              {randn({3, 40}), randint(0, 3, {5, 1000})}, 1e-5, 1e-4);
  // a GPT-like shape
  expect_cuda_grads_match_cpu([](auto& v) { return embedding(v[0], v[1]); },
                              {randn({1000, 128}), randint(0, 1000, {8, 256})});
}

TEST(CudaIndex, Gradients) {
  DS_REQUIRE_CUDA();
  manual_seed(12);
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = randn({5, 6, 7}).to(t);
    expect_cuda_grads_match_cpu([](auto& v) { return index_select(v[0], 1, v[1]); }, {x, indices(6, {9})});
    expect_cuda_grads_match_cpu([](auto& v) { return gather(v[0], 2, v[1]); }, {x, indices(7, {5, 6, 9})});
    expect_cuda_grads_match_cpu([](auto& v) { return scatter(v[0], 0, v[1], v[2]); },
                                {x, indices(5, {5, 6, 7}), randn({5, 6, 7}).to(t)});
    expect_cuda_grads_match_cpu([](auto& v) { return scatter_add(v[0], 1, v[1], v[2]); },
                                {x, indices(6, {5, 6, 7}), randn({5, 6, 7}).to(t)});
    expect_cuda_grads_match_cpu([](auto& v) { return index_add(v[0], 2, v[1], v[2]); },
                                {x, indices(7, {4}), randn({5, 6, 4}).to(t)});
    expect_cuda_grads_match_cpu([](auto& v) { return masked_fill(v[0], v[1], 0.5); }, {x, gt(randn({6, 7}), 0.0)});
    expect_cuda_grads_match_cpu([](auto& v) { return masked_select(v[0], v[1]); }, {x, gt(randn({6, 1}), 0.0)});
    expect_cuda_grads_match_cpu([](auto& v) { return index(v[0], {v[1], v[2]}); },
                                {x, indices(5, {4, 1}), indices(6, {3})});
    expect_cuda_grads_match_cpu([](auto& v) { return index_put(v[0], {v[1]}, v[2], true); },
                                {x, indices(5, {8}), randn({8, 6, 7}).to(t)});
    expect_cuda_grads_match_cpu([](auto& v) { return index_put(v[0], {v[1]}, v[2], false); },
                                {x, tensor_i64({0, 3, -1}), randn({3, 6, 7}).to(t)});
  }
}

TEST(CudaIndex, BadIndicesRaise) {
  DS_REQUIRE_CUDA();
  Tensor x = randn({4, 5}).to(kCuda);
  auto idx = [](std::vector<int64_t> v, Shape s) { return tensor_i64(v, s).to(kCuda); };
  EXPECT_OP_ERROR("index_select", index_select(x, 0, idx({0, 4}, {2})));
  EXPECT_OP_ERROR("index_select", index_select(x, 1, idx({-6}, {1})));
  EXPECT_OP_ERROR("index_select", index_select(x, 1, idx({1, 9}, {2}).to(DType::i32)));
  EXPECT_OP_ERROR("gather", gather(x, 1, idx({0, 1, 5, 2}, {2, 2})));
  EXPECT_OP_ERROR("gather", gather(x, 0, idx({-5, 0}, {1, 2})));
  EXPECT_OP_ERROR("scatter", scatter(x, 0, idx({4, 0}, {1, 2}), randn({1, 2}).to(kCuda)));
  EXPECT_OP_ERROR("scatter_add", scatter_add(x, 1, idx({0, 5}, {1, 2}), randn({1, 2}).to(kCuda)));
  EXPECT_OP_ERROR("index_add", index_add(x, 0, idx({7}, {1}), randn({1, 5}).to(kCuda)));
  EXPECT_OP_ERROR("index", index(x, {idx({0, 4}, {2})}));
  EXPECT_OP_ERROR("index", index(x, {idx({0, 1}, {2}), idx({2, -6}, {2})}));
  EXPECT_OP_ERROR("index_put", index_put(x, {idx({9}, {1})}, randn({5}).to(kCuda)));
  EXPECT_OP_ERROR("index_put", index_put(x, {idx({-5}, {1})}, randn({5}).to(kCuda), true));
  EXPECT_OP_ERROR("one_hot", one_hot(idx({0, 3}, {2}), 3));
  EXPECT_OP_ERROR("one_hot", one_hot(idx({-1}, {1}), 3));
  EXPECT_OP_ERROR("embedding", embedding(x, idx({0, 4}, {2})));
  EXPECT_OP_ERROR("embedding", embedding(x, idx({-1}, {1}).to(DType::i32)));
  {
    Tensor w = randn({4, 5}).to(kCuda).detach().requires_grad_(true);
    Tensor i = idx({1, 2}, {2});
    Tensor y = embedding(w, i);
    EXPECT_NO_THROW(sum(y).backward());
  }
  // the error names the bad value and a failed scatter leaves its input untouched
  try {
    (void)gather(x, 1, idx({0, 1, 17, 2}, {2, 2}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("17"), std::string::npos) << e.what();
  }
  Tensor before = x.to(kCPU);
  EXPECT_OP_ERROR("scatter", scatter(x, 1, idx({1, 8}, {1, 2}), randn({1, 2}).to(kCuda)));
  EXPECT_TRUE(close(x.to(kCPU), before, 0, 0));
  // the device is still usable: no sticky fault
  expect_exact([](auto& v) { return Outs{gather(v[0], 1, v[1])}; }, {randn({4, 5}), tensor_i64({0, 4, 1, 2}, {2, 2})});
}

}  // namespace
}  // namespace deepseek::testing
