// core/: dtypes and half conversions, shapes, devices, the caching allocator, Philox, views.
#include "deepseek/core/generator.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

TEST(Core, HalfAndBFloat16RoundToNearestEven) {
  EXPECT_EQ(Half(1.0f).bits, 0x3c00);
  EXPECT_EQ(Half(65504.0f).bits, 0x7bff);
  EXPECT_EQ(Half(65520.0f).bits, 0x7c00);  // rounds to inf
  EXPECT_EQ(Half(5.96046448e-8f).bits, 0x0001);  // smallest subnormal
  EXPECT_FLOAT_EQ(static_cast<float>(Half(0.333333f)), 0.33325195f);
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(BFloat16(1.00390625f).bits, 0x3f80);  // tie -> even
  EXPECT_EQ(BFloat16(1.01171875f).bits, 0x3f82);
  for (float f : {0.1f, -3.75f, 2e-4f, 12345.f})
    EXPECT_NEAR(static_cast<float>(Half(f)), f, std::abs(f) * 1e-3f);
}

TEST(Core, ShapesAndBroadcasting) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 5}, "t"), (Shape{3, 4, 5}));
  EXPECT_THROW(broadcast_shapes({3}, {4}, "t"), Error);
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Strides{12, 4, 1}));
  EXPECT_EQ(wrap_dim(-1, 3, "t"), 2);
  EXPECT_THROW(wrap_dim(3, 3, "t"), Error);
  EXPECT_EQ(Device("cuda:1").index, 1);
  EXPECT_THROW(Device("tpu"), Error);
  EXPECT_THROW(Tensor::empty({-1}), Error);
}

TEST(Core, CachingAllocatorReusesBlocksAndReportsStats) {
  empty_cache();
  reset_peak_memory();
  MemoryStats s0 = memory_stats();
  {
    Tensor a = empty({1000});
    MemoryStats s1 = memory_stats();
    EXPECT_GE(s1.allocated - s0.allocated, 4000);
    EXPECT_GE(s1.peak_allocated, s1.allocated);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw_data()) % 64, 0u);
  }
  MemoryStats s2 = memory_stats();
  EXPECT_EQ(s2.allocated, s0.allocated);
  EXPECT_GT(s2.reserved, s0.allocated);  // the block stays cached
  int64_t hits = s2.cache_hits;
  Tensor b = empty({900});  // same bucket
  EXPECT_EQ(memory_stats().cache_hits, hits + 1);
  b = Tensor();
  empty_cache();
  EXPECT_EQ(memory_stats().reserved, memory_stats().allocated);
}

TEST(Core, PhiloxKnownAnswer) {
  // Random123's published test vector for Philox4x32-10, counter 0, key 0.
  auto b = Philox::block(0, 0);
  EXPECT_EQ(b[0], 0x6627e8d5u);
  EXPECT_EQ(b[1], 0xe169c58du);
  EXPECT_EQ(b[2], 0xbc57ac4cu);
  EXPECT_EQ(b[3], 0x9b00dbd8u);
}

TEST(Core, RandomOpsFollowTheCounterLayout) {
  manual_seed(1234);
  Tensor u = rand({10});
  auto v = u.to_vector<float>();
  for (int i = 0; i < 10; ++i) {
    auto blk = Philox::block(1234, static_cast<uint64_t>(i / 4));
    EXPECT_EQ(v[i], Philox::uniform(blk[i % 4])) << i;
  }
  EXPECT_EQ(default_generator().state().offset, 3u);  // ceil(10 / 4) counters used
  auto st = default_generator().state();
  Tensor n1 = randn({1000});
  default_generator().set_state(st);
  Tensor n2 = randn({1000});
  EXPECT_TRUE(equal(n1, n2));
  EXPECT_NEAR(mean(n1).item<double>(), 0, 0.1);
  EXPECT_NEAR(std::sqrt(mean(square(n1)).item<double>()), 1, 0.1);
  Tensor r = randint(3, 7, {1000});
  EXPECT_GE(amin(r).item<int64_t>(), 3);
  EXPECT_LE(amax(r).item<int64_t>(), 6);
}

TEST(Core, ViewsAliasAndReshapeCopiesOnlyWhenNeeded) {
  Tensor x = arange(12, {DType::f32});
  Tensor v = view(x, {3, 4});
  EXPECT_EQ(v.raw_data(), x.raw_data());
  Tensor t = transpose(v, 0, 1);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THROW(view(t, {12}), Error);
  Tensor r = reshape(t, {12});
  EXPECT_NE(r.raw_data(), x.raw_data());
  EXPECT_EQ(r.to_vector<int>()[1], 4);
  EXPECT_EQ(select(v, 1, 2).to_vector<int>(), (std::vector<int>{2, 6, 10}));
  EXPECT_EQ(narrow(v, 0, 1, 2).sizes(), (Shape{2, 4}));
  EXPECT_EQ(unsqueeze(v, -1).sizes(), (Shape{3, 4, 1}));
  EXPECT_EQ(squeeze(unsqueeze(v, 0)).sizes(), (Shape{3, 4}));
  EXPECT_EQ(flatten(zeros({2, 3, 4}), 1).sizes(), (Shape{2, 12}));
  EXPECT_EQ(expand(ones({3, 1}), {2, 3, 5}).strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(permute(zeros({2, 3, 4}), {2, 0, 1}).sizes(), (Shape{4, 2, 3}));
  EXPECT_EQ(slice(x, 0, -3, 100).to_vector<int>(), (std::vector<int>{9, 10, 11}));
}

TEST(Core, ViewGradients) {
  Tensor x = grad_input({3, 4});
  auto check = [&](std::function<Tensor(const Tensor&)> f) {
    EXPECT_TRUE(grad_ok([&](auto& v) { return std::vector<Tensor>{f(v[0])}; }, {x}));
  };
  check([](const Tensor& t) { return view(t, {4, 3}); });
  check([](const Tensor& t) { return transpose(t, 0, 1); });
  check([](const Tensor& t) { return slice(t, 1, 1, 4, 2); });
  check([](const Tensor& t) { return select(t, 0, -1); });
  check([](const Tensor& t) { return expand(unsqueeze(t, 0), {2, 3, 4}); });
  check([](const Tensor& t) { return reshape(transpose(t, 0, 1), {12}); });
  check([](const Tensor& t) { return as_strided(t, {2, 2}, {4, 1}, 1); });
}

TEST(Core, CreationOps) {
  EXPECT_EQ(arange(0, 1, 0.25, {DType::f32}).to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(linspace(0, 1, 5).to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(eye(2, 3).to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(full({2}, 7, {DType::i32}).to_vector<int>(), (std::vector<int>{7, 7}));
  EXPECT_EQ(zeros_like(ones({2, 2}, {DType::f64})).dtype(), DType::f64);
  EXPECT_OP_ERROR("arange", arange(0, 5, -1));
  EXPECT_OP_ERROR("randint", randint(5, 5, {2}));
}

TEST(Core, MetaTensorsPropagateShapesWithoutData) {
  Tensor a = empty({64, 128}, {DType::f32, kMeta});
  Tensor b = empty({128}, {DType::f32, kMeta});
  Tensor c = sum(exp(add(a, b)), {1}, true);
  EXPECT_TRUE(c.is_meta());
  EXPECT_EQ(c.sizes(), (Shape{64, 1}));
  EXPECT_EQ(c.raw_data(), nullptr);
  EXPECT_THROW(c.item<float>(), Error);
}

TEST(Core, DevicesMustMatch) {
  Tensor a = ones({2});
  Tensor m = empty({2}, {DType::f32, kMeta});
  EXPECT_OP_ERROR("add", add(a, m));
}
