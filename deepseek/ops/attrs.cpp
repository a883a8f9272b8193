#include "deepseek/ops/attrs.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <sstream>

namespace deepseek::ops {

Attrs& Attrs::set(const std::string& key, AttrValue v) {
  auto it = std::lower_bound(items_.begin(), items_.end(), key,
                             [](const auto& item, const std::string& k) { return item.first < k; });
  if (it != items_.end() && it->first == key) it->second = std::move(v);
  else items_.insert(it, {key, std::move(v)});
  return *this;
}

Attrs& Attrs::set(const std::string& key, const Scalar& s) {
  if (s.dtype() == DType::f64) return set(key, AttrValue(s.to_double()));
  if (s.dtype() == DType::b8) return set(key, AttrValue(s.to_int() != 0));
  return set(key, AttrValue(s.to_int()));
}

const AttrValue* Attrs::find(const std::string& key) const {
  auto it = std::lower_bound(items_.begin(), items_.end(), key,
                             [](const auto& item, const std::string& k) { return item.first < k; });
  return it != items_.end() && it->first == key ? &it->second : nullptr;
}

Scalar Attrs::scalar(const std::string& key) const {
  const AttrValue* v = find(key);
  DS_CHECK(v, "missing attribute '", key, "'");
  if (auto* d = std::get_if<double>(v)) return Scalar(*d);
  if (auto* i = std::get_if<int64_t>(v)) return Scalar(*i);
  if (auto* b = std::get_if<bool>(v)) return Scalar(*b);
  DS_THROW("attribute '", key, "' is not a number");
}

size_t Attrs::hash() const {
  size_t h = 0xcbf29ce484222325ull;
  auto mix = [&](size_t v) { h = (h ^ v) * 0x100000001b3ull; };
  for (auto& [k, v] : items_) {
    mix(std::hash<std::string>{}(k));
    mix(v.index());
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                        std::is_same_v<T, std::vector<double>>) {
            for (auto e : x) mix(std::hash<typename T::value_type>{}(e));
          } else {
            mix(std::hash<T>{}(x));
          }
        },
        v);
  }
  return h;
}

std::string Attrs::to_string() const {
  std::ostringstream os;
  bool first = true;
  for (auto& [k, v] : items_) {
    os << (first ? "" : ", ") << k << "=";
    first = false;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) os << (x ? "true" : "false");
          else if constexpr (std::is_same_v<T, std::string>) os << '"' << x << '"';
          else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<double>>) {
            os << "[";
            for (size_t i = 0; i < x.size(); ++i) os << (i ? ", " : "") << x[i];
            os << "]";
          } else {
            os << x;
          }
        },
        v);
  }
  return os.str();
}

}  // namespace deepseek::ops
