#include "deepseek/models/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace deepseek::models {

namespace {

nlohmann::json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0' && errno == 0 && end != s.c_str()) return static_cast<int64_t>(v);
  }
  {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && end != s.c_str()) return v;
  }
  return s;
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      auto a = nlohmann::json::array();
      for (const auto& x : node) a.push_back(yaml_to_json(x));
      return a;
    }
    case YAML::NodeType::Map: {
      auto o = nlohmann::json::object();
      for (const auto& kv : node) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}

nlohmann::json parse_config(const std::string& text, const std::string& what) {
  try {
    return yaml_to_json(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(what + ": " + e.what());
  }
}

nlohmann::json load_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw ConfigError("cannot open config file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = parse_config(ss.str(), "config file '" + path + "'");
  if (j.is_null()) j = nlohmann::json::object();
  if (!j.is_object()) throw ConfigError("config file '" + path + "' must hold a mapping of keys");
  return j;
}

nlohmann::json parse_override_value(const std::string& text) {
  return parse_config(text, "override value '" + text + "'");
}

void set_dotted(nlohmann::json& config, const std::string& key, nlohmann::json value) {
  if (key.empty()) throw ConfigError("override has an empty key");
  nlohmann::json* cur = &config;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw ConfigError("override key '" + key + "' has an empty component");
    if (!cur->is_object()) {
      if (cur->is_string() && cur != &config) {
        // "model: smallcnn" then "model.hidden=..." — promote the name to {name: ...}.
        *cur = nlohmann::json{{"name", cur->get<std::string>()}};
      } else if (cur->is_null()) {
        *cur = nlohmann::json::object();
      } else {
        throw ConfigError("override key '" + key + "': '" + key.substr(0, start - 1) +
                          "' is not a mapping");
      }
    }
    if (dot == std::string::npos) {
      (*cur)[part] = std::move(value);
      return;
    }
    cur = &(*cur)[part];
    start = dot + 1;
  }
}

ConfigReader::ConfigReader(const nlohmann::json& j, std::string what) : j_(j), what_(std::move(what)) {
  if (!j_.is_object() && !j_.is_null())
    throw ConfigError(what_ + " must be a mapping of keys, got " + j_.dump());
}

const nlohmann::json& ConfigReader::raw(const char* key) {
  seen_.insert(key);
  return j_.at(key);
}

void ConfigReader::finish() const {
  if (!j_.is_object()) return;
  std::string unknown;
  for (auto& [k, v] : j_.items())
    if (!seen_.count(k)) unknown += (unknown.empty() ? "'" : ", '") + k + "'";
  if (!unknown.empty()) {
    std::string known;
    for (auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError(what_ + ": unknown key " + unknown + " (known: " + known + ")");
  }
}

namespace detail {
void config_type_error(const std::string& what, const char* key, const char* expected,
                       const nlohmann::json& got) {
  throw ConfigError(what + ": '" + key + "' must be " + expected + ", got " + got.dump());
}
}  // namespace detail

}  // namespace deepseek::models
