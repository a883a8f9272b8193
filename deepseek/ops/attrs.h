// Attributes of an op call (stride, padding, dim, keepdim, ...): a small sorted dictionary of
// typed values. Hashable and comparable, so the IR can merge identical nodes and caches can
// key on them; printable, so the IR printer and error messages show them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "deepseek/core/error.h"
#include "deepseek/core/scalar.h"

namespace deepseek::ops {

using AttrValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>>;

class Attrs {
 public:
  Attrs() = default;

  Attrs& set(const std::string& key, AttrValue v);
  // Exact-type overloads: a double must never convert to int on its way in.
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Attrs& set(const std::string& key, T v) { return set(key, AttrValue(static_cast<int64_t>(v))); }
  Attrs& set(const std::string& key, double v) { return set(key, AttrValue(v)); }
  Attrs& set(const std::string& key, bool v) { return set(key, AttrValue(v)); }
  Attrs& set(const std::string& key, const std::string& v) { return set(key, AttrValue(v)); }
  Attrs& set(const std::string& key, const char* v) { return set(key, AttrValue(std::string(v))); }
  Attrs& set(const std::string& key, const Scalar& s);
  Attrs& set(const std::string& key, const std::optional<int64_t>& v) {
    if (v) set(key, AttrValue(*v));
    return *this;
  }

  bool has(const std::string& key) const { return find(key) != nullptr; }
  const AttrValue* find(const std::string& key) const;

  template <typename T> T get(const std::string& key) const {
    const AttrValue* v = find(key);
    DS_CHECK(v, "missing attribute '", key, "'");
    if constexpr (std::is_same_v<T, double>) {
      if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
    }
    const T* p = std::get_if<T>(v);
    DS_CHECK(p, "attribute '", key, "' has the wrong type");
    return *p;
  }
  template <typename T> T get(const std::string& key, const T& fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }
  Scalar scalar(const std::string& key) const;
  std::optional<int64_t> optional_int(const std::string& key) const {
    return has(key) ? std::optional<int64_t>(get<int64_t>(key)) : std::nullopt;
  }

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  size_t hash() const;
  bool operator==(const Attrs& o) const { return items_ == o.items_; }
  std::string to_string() const;  // "dim=[1], keepdim=true"

 private:
  std::vector<std::pair<std::string, AttrValue>> items_;  // sorted by key
};

}  // namespace deepseek::ops
