// Image transforms for data augmentation, on f32 tensors shaped (C, H, W). Each takes the
// example's own random stream (data::Rng), which the DataLoader derives from (seed, epoch,
// index), so augmentation is reproducible and independent of thread timing. Transforms never
// modify their input (dataset examples are views of the shared data); they return new tensors.
// Semantics follow torchvision (transforms.v1) so recipes carry over.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "deepseek/core/tensor.h"
#include "deepseek/data/rng.h"

namespace deepseek::data {

using Transform = std::function<Tensor(const Tensor&, Rng&)>;

// Applies transforms in order.
Transform compose(std::vector<Transform> transforms);

// (x - mean[c]) / std[c] per channel; one value each broadcasts to all channels.
Transform normalize(std::vector<float> mean, std::vector<float> std);

// Pads each side by `padding` with `fill`, then crops a random (height, width) window.
Transform random_crop(int64_t height, int64_t width, int64_t padding = 0, float fill = 0.f);

// Mirrors left-right with probability p.
Transform random_horizontal_flip(double p = 0.5);

// With probability p, sets a random rectangle to `value` (Zhong et al. 2017): its area is a
// uniform fraction in `scale` of the image and its aspect ratio log-uniform in `ratio`;
// up to 10 tries to find one that fits, else the image is unchanged.
Transform random_erasing(double p = 0.5, std::pair<double, double> scale = {0.02, 0.33},
                         std::pair<double, double> ratio = {0.3, 3.3}, float value = 0.f);

}  // namespace deepseek::data
