#include "deepseek/data/transforms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace deepseek::data {
namespace {

Tensor image(int64_t c, int64_t h, int64_t w) {
  Tensor x = Tensor::empty({c, h, w}, DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
  return x;
}

float at(const Tensor& x, int64_t c, int64_t y, int64_t xx) {
  return x.data<float>()[(c * x.size(1) + y) * x.size(2) + xx];
}

TEST(Rng, StreamsAreReproducibleAndDistinct) {
  Rng a = Rng::for_example(1, 0, 5), b = Rng::for_example(1, 0, 5);
  Rng c = Rng::for_example(1, 1, 5), d = Rng::for_example(1, 0, 6);
  std::vector<uint32_t> va, vb, vc, vd;
  for (int i = 0; i < 9; ++i) va.push_back(a.next_u32()), vb.push_back(b.next_u32()),
                              vc.push_back(c.next_u32()), vd.push_back(d.next_u32());
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_NE(va, vd);
}

TEST(Rng, RandintIsInRangeAndRoughlyUniform) {
  Rng r(123);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 60000; ++i) {
    int64_t v = r.randint(-2, 4);
    ASSERT_GE(v, -2);
    ASSERT_LT(v, 4);
    counts[v]++;
  }
  for (auto& [v, n] : counts) EXPECT_NEAR(n, 10000, 500) << v;
  for (int i = 0; i < 1000; ++i) {
    float u = r.uniform();
    ASSERT_GE(u, 0.f);
    ASSERT_LT(u, 1.f);
  }
}

TEST(Transforms, Normalize) {
  Tensor x = image(2, 2, 2);
  Rng r(0);
  Tensor y = normalize({1.f, 2.f}, {2.f, 4.f})(x, r);
  EXPECT_FLOAT_EQ(at(y, 0, 0, 1), 0.f);
  EXPECT_FLOAT_EQ(at(y, 1, 1, 1), (7.f - 2.f) / 4.f);
  EXPECT_FLOAT_EQ(at(x, 0, 0, 1), 1.f);  // input untouched
  EXPECT_THROW(normalize({1.f, 2.f, 3.f}, {1.f, 1.f, 1.f})(x, r), Error);
  EXPECT_THROW(normalize({1.f}, {0.f}), Error);
  EXPECT_THROW(normalize({0.f}, {1.f})(Tensor::empty({4}, DType::f32), r), Error);
  EXPECT_THROW(normalize({0.f}, {1.f})(Tensor::empty({1, 2, 2}, DType::f64), r), Error);
}

TEST(Transforms, RandomCropWithPaddingCoversAllOffsets) {
  Tensor x = image(1, 4, 4);
  auto crop = random_crop(4, 4, 1, -1.f);
  std::set<std::pair<int, int>> offsets;
  for (int64_t i = 0; i < 400; ++i) {
    Rng r = Rng::for_example(0, 0, i);
    Tensor y = crop(x, r);
    ASSERT_EQ(y.sizes(), (Shape{1, 4, 4}));
    // Find where the source's element 0 landed (or infer the shift from the first valid value).
    int dy = -9, dx = -9;
    for (int yy = 0; yy < 4 && dy == -9; ++yy)
      for (int xx = 0; xx < 4; ++xx)
        if (at(y, 0, yy, xx) >= 0) {
          int v = static_cast<int>(at(y, 0, yy, xx));
          dy = v / 4 - yy, dx = v % 4 - xx;
          break;
        }
    // Every element is consistent with that shift.
    for (int yy = 0; yy < 4; ++yy)
      for (int xx = 0; xx < 4; ++xx) {
        int sy = yy + dy, sx = xx + dx;
        float want = (sy < 0 || sy >= 4 || sx < 0 || sx >= 4) ? -1.f : static_cast<float>(sy * 4 + sx);
        ASSERT_EQ(at(y, 0, yy, xx), want);
      }
    offsets.insert({dy, dx});
  }
  EXPECT_EQ(offsets.size(), 9u);  // shifts -1, 0, 1 in each direction
  Rng r(0);
  EXPECT_THROW(random_crop(7, 7, 1)(x, r), Error);
}

TEST(Transforms, HorizontalFlip) {
  Tensor x = image(2, 3, 4);
  Rng r(0);
  Tensor always = random_horizontal_flip(1.0)(x, r);
  EXPECT_FLOAT_EQ(at(always, 1, 2, 0), at(x, 1, 2, 3));
  EXPECT_FLOAT_EQ(at(always, 0, 1, 1), at(x, 0, 1, 2));
  Tensor never = random_horizontal_flip(0.0)(x, r);
  EXPECT_FLOAT_EQ(at(never, 1, 2, 0), at(x, 1, 2, 0));
  int flipped = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    Rng ri = Rng::for_example(1, 0, i);
    flipped += at(random_horizontal_flip(0.5)(x, ri), 0, 0, 0) != at(x, 0, 0, 0);
  }
  EXPECT_NEAR(flipped, 500, 60);
}

TEST(Transforms, RandomErasing) {
  Tensor x = image(3, 16, 16);
  int erased_images = 0;
  for (int64_t i = 0; i < 200; ++i) {
    Rng r = Rng::for_example(2, 0, i);
    Tensor y = random_erasing(0.5, {0.02, 0.33}, {0.3, 3.3}, -5.f)(x, r);
    int64_t n = 0;
    for (int64_t k = 0; k < y.numel(); ++k) n += y.data<float>()[k] == -5.f;
    if (n == 0) continue;
    ++erased_images;
    EXPECT_EQ(n % 3, 0);  // same rectangle in every channel
    EXPECT_GE(n / 3, 1);
    EXPECT_LE(n / 3, static_cast<int64_t>(0.33 * 256 * 1.3) + 16);
  }
  EXPECT_NEAR(erased_images, 100, 25);
  EXPECT_FLOAT_EQ(at(x, 0, 5, 5), 85.f);  // input untouched
}

TEST(Transforms, ComposeUsesOneStream) {
  auto t = compose({random_crop(4, 4, 2), random_horizontal_flip()});
  Tensor x = image(1, 4, 4);
  Rng a = Rng::for_example(7, 1, 3), b = Rng::for_example(7, 1, 3);
  Tensor ya = t(x, a), yb = t(x, b);
  EXPECT_EQ(ya.to_vector<float>(), yb.to_vector<float>());
}

}  // namespace
}  // namespace deepseek::data
