#include "deepseek/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace deepseek::data {

namespace {

// A contiguous f32 (C, H, W) view of x (copied only if x is not contiguous).
Tensor chw(const Tensor& x, const char* op) {
  DS_CHECK(x.defined(), "[", op, "] input is undefined");
  DS_CHECK(x.device().is_cpu(), "[", op, "] expected a CPU tensor, got ", x.device().str());
  DS_CHECK(x.dtype() == DType::f32, "[", op, "] expected an f32 image, got ", dtype_name(x.dtype()));
  DS_CHECK(x.dim() == 3, "[", op, "] expected a (C, H, W) image, got shape ", to_string(x.sizes()));
  return x.is_contiguous() ? x : x.contiguous();
}

Tensor copy_of(const Tensor& x) {
  Tensor out = Tensor::empty(x.sizes(), x.dtype());
  if (x.nbytes()) std::memcpy(out.raw_data(), x.raw_data(), x.nbytes());
  return out;
}

}  // namespace

Transform compose(std::vector<Transform> transforms) {
  for (auto& t : transforms) DS_CHECK(t != nullptr, "[compose] a transform is empty");
  return [ts = std::move(transforms)](const Tensor& x, Rng& rng) {
    Tensor y = x;
    for (auto& t : ts) y = t(y, rng);
    return y;
  };
}

Transform normalize(std::vector<float> mean, std::vector<float> std) {
  DS_CHECK(!mean.empty() && mean.size() == std.size(), "[normalize] mean and std need the same, non-zero length (got ",
           mean.size(), " and ", std.size(), ")");
  for (float s : std) DS_CHECK(s != 0.f && std::isfinite(s), "[normalize] std must be finite and non-zero");
  return [mean = std::move(mean), stdv = std::move(std)](const Tensor& x0, Rng&) {
    Tensor x = chw(x0, "normalize");
    const int64_t C = x.size(0), HW = x.size(1) * x.size(2);
    DS_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == C, "[normalize] ", mean.size(),
             " means for an image with ", C, " channels");
    Tensor out = Tensor::empty(x.sizes(), DType::f32);
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (int64_t c = 0; c < C; ++c) {
      const float m = mean[mean.size() == 1 ? 0 : c], inv = 1.f / stdv[stdv.size() == 1 ? 0 : c];
      for (int64_t i = 0; i < HW; ++i) o[c * HW + i] = (in[c * HW + i] - m) * inv;
    }
    return out;
  };
}

Transform random_crop(int64_t height, int64_t width, int64_t padding, float fill) {
  DS_CHECK(height > 0 && width > 0, "[random_crop] size must be positive, got ", height, "x", width);
  DS_CHECK(padding >= 0, "[random_crop] padding must be >= 0, got ", padding);
  return [=](const Tensor& x0, Rng& rng) {
    Tensor x = chw(x0, "random_crop");
    const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
    DS_CHECK(H + 2 * padding >= height && W + 2 * padding >= width, "[random_crop] crop ", height, "x", width,
             " larger than the padded image ", H + 2 * padding, "x", W + 2 * padding);
    const int64_t top = rng.randint(0, H + 2 * padding - height + 1) - padding;
    const int64_t left = rng.randint(0, W + 2 * padding - width + 1) - padding;
    Tensor out = Tensor::empty({C, height, width}, DType::f32);
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < height; ++y) {
        const int64_t sy = top + y;
        float* orow = o + (c * height + y) * width;
        if (sy < 0 || sy >= H) {
          std::fill(orow, orow + width, fill);
          continue;
        }
        const float* irow = in + (c * H + sy) * W;
        for (int64_t xx = 0; xx < width; ++xx) {
          const int64_t sx = left + xx;
          orow[xx] = (sx < 0 || sx >= W) ? fill : irow[sx];
        }
      }
    return out;
  };
}

Transform random_horizontal_flip(double p) {
  DS_CHECK(p >= 0 && p <= 1, "[random_horizontal_flip] p must be in [0, 1], got ", p);
  return [=](const Tensor& x0, Rng& rng) {
    Tensor x = chw(x0, "random_horizontal_flip");
    if (!rng.bernoulli(p)) return x0;
    const int64_t rows = x.size(0) * x.size(1), W = x.size(2);
    Tensor out = Tensor::empty(x.sizes(), DType::f32);
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (int64_t r = 0; r < rows; ++r) std::reverse_copy(in + r * W, in + (r + 1) * W, o + r * W);
    return out;
  };
}

Transform random_erasing(double p, std::pair<double, double> scale, std::pair<double, double> ratio, float value) {
  DS_CHECK(p >= 0 && p <= 1, "[random_erasing] p must be in [0, 1], got ", p);
  DS_CHECK(scale.first >= 0 && scale.first <= scale.second && scale.second <= 1,
           "[random_erasing] scale must satisfy 0 <= lo <= hi <= 1");
  DS_CHECK(ratio.first > 0 && ratio.first <= ratio.second, "[random_erasing] ratio must satisfy 0 < lo <= hi");
  return [=](const Tensor& x0, Rng& rng) {
    Tensor x = chw(x0, "random_erasing");
    if (!rng.bernoulli(p)) return x0;
    const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
    const double area = static_cast<double>(H * W);
    const double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * rng.uniform(scale.first, scale.second);
      const double aspect = std::exp(rng.uniform(log_lo, log_hi));
      const int64_t h = std::llround(std::sqrt(erase_area * aspect));
      const int64_t w = std::llround(std::sqrt(erase_area / aspect));
      if (!(h < H && w < W) || h <= 0 || w <= 0) continue;
      const int64_t top = rng.randint(0, H - h + 1), left = rng.randint(0, W - w + 1);
      Tensor out = copy_of(x);
      float* o = out.data<float>();
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = top; y < top + h; ++y) std::fill_n(o + (c * H + y) * W + left, w, value);
      return out;
    }
    return x0;
  };
}

}  // namespace deepseek::data
