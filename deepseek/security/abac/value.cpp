#include "deepseek/security/abac/value.h"

#include <charconv>
#include <cmath>

#include "deepseek/core/error.h"

namespace deepseek::security::abac {

const char* Value::type_name() const {
  switch (kind()) {
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "integer";
    case Kind::real:
      return "number";
    case Kind::string:
      return "string";
    case Kind::list:
      return "list";
  }
  return "?";
}

std::string Value::to_string() const {
  switch (kind()) {
    case Kind::boolean:
      return as_bool() ? "true" : "false";
    case Kind::integer:
      return std::to_string(as_int());
    case Kind::real: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, std::get<double>(v_));
      return std::string(buf, r.ptr);
    }
    case Kind::string:
      return "'" + as_string() + "'";
    case Kind::list: {
      std::string s = "[";
      for (std::size_t i = 0; i < as_list().size(); ++i)
        s += (i ? ", " : "") + as_list()[i].to_string();
      return s + "]";
    }
  }
  return "?";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside [...] or quotes.
std::vector<std::string_view> split_top(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

Value Value::parse_scalar(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
      text.back() == text.front())
    return Value(std::string(text.substr(1, text.size() - 2)));
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    List items;
    auto inner = trim(text.substr(1, text.size() - 2));
    if (!inner.empty())
      for (auto part : split_top(inner)) items.push_back(parse_scalar(part));
    return Value(std::move(items));
  }
  if (text == "true" || text == "True" || text == "TRUE") return Value(true);
  if (text == "false" || text == "False" || text == "FALSE") return Value(false);
  std::int64_t i;
  auto r = std::from_chars(text.data(), text.data() + text.size(), i);
  if (r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty()) return Value(i);
  double d;
  auto rd = std::from_chars(text.data(), text.data() + text.size(), d);
  if (rd.ec == std::errc() && rd.ptr == text.data() + text.size() && !text.empty() &&
      std::isfinite(d))
    return Value(d);
  return Value(std::string(text));
}

std::optional<bool> strict_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Value::Kind::integer && b.kind() == Value::Kind::integer)
      return a.as_int() == b.as_int();
    return a.as_number() == b.as_number();
  }
  if (a.kind() != b.kind()) return std::nullopt;
  switch (a.kind()) {
    case Value::Kind::boolean:
      return a.as_bool() == b.as_bool();
    case Value::Kind::string:
      return a.as_string() == b.as_string();
    case Value::Kind::list: {
      auto& x = a.as_list();
      auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        auto e = strict_equal(x[i], y[i]);
        if (!e) return std::nullopt;
        if (!*e) return false;
      }
      return true;
    }
    default:
      return std::nullopt;
  }
}

void parse_attribute_args(std::string_view text, Attributes& attrs) {
  for (auto part : split_top(text)) {
    part = trim(part);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      attrs["id"] = Value(std::string(part));
      continue;
    }
    auto key = trim(part.substr(0, eq));
    DS_CHECK(!key.empty(), "[abac] attribute '", part, "' has an empty name");
    attrs[std::string(key)] = Value::parse_scalar(part.substr(eq + 1));
  }
}

}  // namespace deepseek::security::abac
