// Tensor's compute methods, declared in core/tensor.h, forward to the public ops.
#include "deepseek/ops/ops.h"

#include <cmath>

#include "deepseek/ops/dispatcher.h"

namespace deepseek {

Tensor Tensor::to(DType t) const { return cast(*this, t); }
Tensor Tensor::to(Device d) const { return to_device(*this, d); }
Tensor Tensor::clone() const { return deepseek::clone(*this); }
Tensor Tensor::contiguous() const { return deepseek::contiguous(*this); }
Tensor Tensor::contiguous(MemoryFormat format) const { return deepseek::contiguous(*this, format); }
Tensor Tensor::view(const Shape& s) const { return deepseek::view(*this, s); }
Tensor Tensor::reshape(const Shape& s) const { return deepseek::reshape(*this, s); }
Tensor Tensor::flatten(int64_t start, int64_t end) const { return deepseek::flatten(*this, start, end); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return deepseek::permute(*this, dims); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return deepseek::transpose(*this, a, b); }
Tensor Tensor::t() const {
  DS_CHECK(dim() <= 2, "[t] expects a tensor with <= 2 dims, got ", dim());
  return dim() < 2 ? *this : deepseek::transpose(*this, 0, 1);
}
Tensor Tensor::expand(const Shape& s) const { return deepseek::expand(*this, s); }
Tensor Tensor::squeeze(std::optional<int64_t> d) const { return deepseek::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return deepseek::unsqueeze(*this, d); }
Tensor Tensor::slice(int64_t d, int64_t s, int64_t e, int64_t st) const { return deepseek::slice(*this, d, s, e, st); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return deepseek::narrow(*this, d, s, l); }
Tensor Tensor::select(int64_t d, int64_t i) const { return deepseek::select(*this, d, i); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return deepseek::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return deepseek::mean(*this, dims, keepdim); }
// Tensor::matmul is defined with the linear-algebra ops.
Tensor Tensor::neg() const { return deepseek::neg(*this); }
Tensor Tensor::exp() const { return deepseek::exp(*this); }
Tensor Tensor::log() const { return deepseek::log(*this); }
Tensor Tensor::relu() const { return deepseek::relu(*this); }
Tensor Tensor::sigmoid() const { return deepseek::sigmoid(*this); }
Tensor Tensor::tanh() const { return deepseek::tanh(*this); }
Tensor Tensor::sqrt() const { return deepseek::sqrt(*this); }
Tensor Tensor::abs() const { return deepseek::abs(*this); }
Tensor Tensor::pow(const Scalar& e) const { return deepseek::pow(*this, e); }

static ops::OpId id(const char* n) { return ops::op_id(n); }

Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) {
  static const auto op = id("add");
  ops::Attrs a;
  if (alpha.to_double() != 1) a.set("alpha", alpha);
  return ops::dispatch_inplace(op, *this, {*this, o}, a);
}
Tensor& Tensor::sub_(const Tensor& o) {
  static const auto op = id("sub");
  return ops::dispatch_inplace(op, *this, {*this, o});
}
Tensor& Tensor::mul_(const Tensor& o) {
  static const auto op = id("mul");
  return ops::dispatch_inplace(op, *this, {*this, o});
}
Tensor& Tensor::mul_(const Scalar& s) {
  static const auto op = id("mul");
  return ops::dispatch_inplace(op, *this, {*this, full({}, s, {dtype(), device()})});
}
Tensor& Tensor::div_(const Tensor& o) {
  static const auto op = id("div");
  return ops::dispatch_inplace(op, *this, {*this, o});
}
Tensor& Tensor::copy_(const Tensor& src) { return deepseek::copy_(*this, src); }
Tensor& Tensor::fill_(const Scalar& v) { return deepseek::fill_(*this, v); }
Tensor& Tensor::zero_() { return deepseek::fill_(*this, 0); }

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  return a.to_vector<double>() == b.to_vector<double>();
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.sizes() != b.sizes()) return false;
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (!(std::isnan(x[i]) && std::isnan(y[i]))) return false;
      continue;
    }
    if (std::abs(x[i] - y[i]) > atol + rtol * std::abs(y[i])) return false;
  }
  return true;
}

}  // namespace deepseek
