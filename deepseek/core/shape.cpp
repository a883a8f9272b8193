#include "deepseek/core/shape.h"

#include <sstream>

#include "deepseek/core/error.h"

namespace deepseek {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i] > 1 ? s[i] : 1;
  }
  return st;
}

Strides channels_last_strides(const Shape& s) {
  DS_CHECK(s.size() == 4, "channels_last needs a 4-D (N, C, H, W) shape, got ", to_string(s));
  auto m = [&](size_t d) { return s[d] > 1 ? s[d] : int64_t{1}; };
  return {m(1) * m(2) * m(3), 1, m(1) * m(3), m(1)};
}

std::string to_string(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DS_CHECK(da == db || da == 1 || db == 1, "[", op, "] shapes ", to_string(a), " and ",
             to_string(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim == 0 ? 1 : ndim;  // a 0-d tensor accepts dim 0 and -1, as in PyTorch
  DS_CHECK(dim >= -n && dim < n, "[", op, "] dim ", dim, " out of range for a ", ndim,
           "-D tensor");
  return dim < 0 ? dim + n : dim;
}

std::vector<bool> dims_mask(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<bool> mask(ndim, dims.empty());
  for (auto d : dims) {
    int64_t w = wrap_dim(d, ndim, op);
    if (ndim == 0) continue;
    DS_CHECK(!mask[w], "[", op, "] dim ", d, " appears more than once");
    mask[w] = true;
  }
  return mask;
}

}  // namespace deepseek
