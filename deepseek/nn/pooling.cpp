#include "deepseek/nn/pooling.h"

#include "deepseek/core/error.h"

namespace deepseek::nn {

namespace {
std::vector<int64_t> two(std::vector<int64_t> v, const char* layer, const char* what) {
  DS_CHECK(v.size() == 1 || v.size() == 2, "[", layer, "] ", what, " takes 1 or 2 values, got ",
           v.size());
  if (v.size() == 1) v.push_back(v[0]);
  return v;
}
}  // namespace

MaxPool2d::MaxPool2d(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> p,
                     std::vector<int64_t> d, bool ceil)
    : Module("MaxPool2d"),
      kernel_size(two(k, "MaxPool2d", "kernel_size")),
      stride(s.empty() ? kernel_size : two(s, "MaxPool2d", "stride")),
      padding(two(p, "MaxPool2d", "padding")),
      dilation(two(d, "MaxPool2d", "dilation")),
      ceil_mode(ceil) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + detail::tuple_str(kernel_size) + ", stride=" + detail::tuple_str(stride) +
         ", padding=" + detail::tuple_str(padding) + ", dilation=" + detail::tuple_str(dilation) +
         ", ceil_mode=" + (ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> p,
                     bool cip)
    : Module("AvgPool2d"),
      kernel_size(two(k, "AvgPool2d", "kernel_size")),
      stride(s.empty() ? kernel_size : two(s, "AvgPool2d", "stride")),
      padding(two(p, "AvgPool2d", "padding")),
      count_include_pad(cip) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel_size, stride, padding, count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + detail::tuple_str(kernel_size) + ", stride=" + detail::tuple_str(stride) +
         ", padding=" + detail::tuple_str(padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<int64_t> o)
    : Module("AdaptiveAvgPool2d"), output_size(two(o, "AdaptiveAvgPool2d", "output_size")) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + detail::tuple_str(output_size);
}

}  // namespace deepseek::nn
