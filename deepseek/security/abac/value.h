// Attribute values for access-control decisions: booleans, integers, floats, strings and
// lists of them. Comparison is strict on purpose — "3" (a string) never equals 3 (a number),
// and ordering is defined only between numbers — because a policy that quietly compares the
// wrong types is a policy that quietly grants the wrong thing; such comparisons are errors
// the engine reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace deepseek::security::abac {

class Value {
 public:
  using List = std::vector<Value>;
  enum class Kind { boolean, integer, real, string, list };

  Value() : v_(false) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(List l) : v_(std::move(l)) {}

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_number() const { return kind() == Kind::integer || kind() == Kind::real; }
  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_number() const {
    return kind() == Kind::integer ? static_cast<double>(as_int()) : std::get<double>(v_);
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return std::get<List>(v_); }

  const char* type_name() const;
  std::string to_string() const;  // JSON-like, for messages

  // Typed the way YAML's core schema types a plain scalar: true/false, integers, floats,
  // [a, b] lists; anything else (or anything in quotes) is a string. Used for CLI k=v input.
  static Value parse_scalar(std::string_view text);

 private:
  std::variant<bool, std::int64_t, double, std::string, List> v_;
};

// Equality with the strict typing rule: nullopt when the types cannot be compared.
std::optional<bool> strict_equal(const Value& a, const Value& b);

using Attributes = std::unordered_map<std::string, Value>;

// Parses "k=v" (value typed by Value::parse_scalar) into attrs; a bare "v" sets id=v.
// Several pairs may be joined by commas outside brackets: "id=alice,role=admin".
void parse_attribute_args(std::string_view text, Attributes& attrs);

}  // namespace deepseek::security::abac
