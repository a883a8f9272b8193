// Model configs: every model in the zoo is built from a plain config struct, and each struct
// can be read from JSON or YAML (YAML is converted to JSON first, so both follow one path).
// Reading is strict — an unknown key or a value of the wrong type is a ConfigError naming the
// key — because a typo in a config should stop a run before it starts, not silently change it.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "deepseek/core/error.h"

namespace YAML {
class Node;
}

namespace deepseek::models {

// A bad config (unknown key, wrong type, out-of-range value). The CLI maps it to exit code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& msg) : Error(msg) {}
};

// YAML -> JSON: scalars become bool, integer, float or string (in that order of preference).
nlohmann::json yaml_to_json(const YAML::Node& node);
// Parses a YAML or JSON document (JSON is a subset of YAML). Throws ConfigError on bad syntax.
nlohmann::json parse_config(const std::string& text, const std::string& what = "config");
// Reads a .yaml/.yml/.json file. Throws ConfigError when missing or malformed.
nlohmann::json load_config_file(const std::string& path);
// Parses the right-hand side of a `key=value` override as a YAML scalar or flow collection.
nlohmann::json parse_override_value(const std::string& text);
// Sets `dotted.key` in `config` to `value` (creating objects along the path).
void set_dotted(nlohmann::json& config, const std::string& dotted_key, nlohmann::json value);

// Strict reader over a JSON object: get() checks types; finish() fails on keys never read.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, std::string what);
  template <typename T>
  void get(const char* key, T& out);
  bool has(const char* key) const { return j_.contains(key); }
  const nlohmann::json& raw(const char* key);
  void finish() const;  // throws ConfigError listing unknown keys

 private:
  const nlohmann::json& j_;
  std::string what_;
  std::set<std::string> seen_;
};

namespace detail {
[[noreturn]] void config_type_error(const std::string& what, const char* key, const char* expected,
                                    const nlohmann::json& got);
}

template <typename T>
void ConfigReader::get(const char* key, T& out) {
  seen_.insert(key);
  if (!j_.contains(key)) return;
  const auto& v = j_.at(key);
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) detail::config_type_error(what_, key, "a boolean", v);
    out = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) detail::config_type_error(what_, key, "an integer", v);
    out = v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) detail::config_type_error(what_, key, "a number", v);
    out = v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) detail::config_type_error(what_, key, "a string", v);
    out = v.get<std::string>();
  } else {
    try {
      out = v.get<T>();
    } catch (const nlohmann::json::exception&) {
      detail::config_type_error(what_, key, "a list of the right type", v);
    }
  }
}

}  // namespace deepseek::models
