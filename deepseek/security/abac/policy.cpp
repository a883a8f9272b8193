#include "deepseek/security/abac/policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "deepseek/core/error.h"

namespace deepseek::security::abac {

const char* op_name(Condition::Op op) {
  using O = Condition::Op;
  switch (op) {
    case O::all:
      return "all";
    case O::any:
      return "any";
    case O::not_:
      return "not";
    case O::eq:
      return "eq";
    case O::ne:
      return "ne";
    case O::lt:
      return "lt";
    case O::le:
      return "le";
    case O::gt:
      return "gt";
    case O::ge:
      return "ge";
    case O::in:
      return "in";
    case O::not_in:
      return "not_in";
    case O::contains:
      return "contains";
    case O::starts_with:
      return "starts_with";
    case O::ends_with:
      return "ends_with";
    case O::exists:
      return "exists";
  }
  return "?";
}

namespace {

// Where in the file we are, for every error message.
struct Ctx {
  const std::string& source;
  std::string policy;
  std::string where;
  [[noreturn]] void error(const std::string& msg) const {
    DS_THROW("[abac] ", source, ": ", policy.empty() ? std::string() : "policy '" + policy + "' ",
             "(", where, "): ", msg);
  }
  Ctx at(const std::string& sub) const { return Ctx{source, policy, where + sub}; }
};

std::string mark(const YAML::Node& n) {
  if (n.Mark().line < 0) return "";
  return " at line " + std::to_string(n.Mark().line + 1);
}

Value literal(const YAML::Node& n, const Ctx& c) {
  if (n.IsSequence()) {
    Value::List items;
    for (std::size_t i = 0; i < n.size(); ++i)
      items.push_back(literal(n[i], c.at("[" + std::to_string(i) + "]")));
    return Value(std::move(items));
  }
  if (n.IsNull()) c.error("null is not a value" + mark(n));
  if (!n.IsScalar()) c.error("expected a value or {attr: path}" + mark(n));
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return Value(s);  // quoted in YAML, or a JSON string
  Value v = Value::parse_scalar(s);
  // Brackets inside a plain scalar are not YAML lists; keep such text a string.
  if (v.kind() == Value::Kind::list) return Value(s);
  return v;
}

Operand attr_path(const std::string& path, const Ctx& c) {
  Operand o;
  o.is_attr = true;
  o.path = path;
  auto dot = path.find('.');
  std::string cat = path.substr(0, dot);
  std::string key = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (cat == "subject")
    o.category = Category::subject;
  else if (cat == "resource")
    o.category = Category::resource;
  else if (cat == "environment" || cat == "env")
    o.category = Category::environment;
  else if (cat == "action") {
    o.category = Category::action;
    if (!key.empty() && key != "id")
      c.error("the action has only one attribute, 'action' (or 'action.id'), not '" + path + "'");
    key = "id";
  } else {
    c.error("attribute '" + path +
            "' must start with subject., resource., environment. or be 'action'");
  }
  if (key.empty()) c.error("attribute '" + path + "' names no key");
  o.key = key;
  return o;
}

Operand operand(const YAML::Node& n, const Ctx& c) {
  if (n.IsMap()) {
    if (n.size() != 1 || !n["attr"])
      c.error("an operand map must be exactly {attr: path}" + mark(n));
    if (!n["attr"].IsScalar()) c.error("attr must be a path string" + mark(n));
    return attr_path(n["attr"].Scalar(), c);
  }
  Operand o;
  o.literal = literal(n, c);
  return o;
}

Condition condition(const YAML::Node& n, const Ctx& c) {
  using O = Condition::Op;
  if (!n.IsMap()) c.error("a condition must be a map" + mark(n));
  Condition out;
  auto list = [&](const char* key, O op) {
    if (n.size() != 1)
      c.error(std::string("'") + key + "' must be the only key of its condition" + mark(n));
    const YAML::Node& items = n[key];
    if (!items.IsSequence())
      c.error(std::string("'") + key + "' takes a list of conditions" + mark(items));
    out.op = op;
    for (std::size_t i = 0; i < items.size(); ++i)
      out.children.push_back(
          condition(items[i], c.at("." + std::string(key) + "[" + std::to_string(i) + "]")));
  };
  if (n["all"]) {
    list("all", O::all);
    return out;
  }
  if (n["any"]) {
    list("any", O::any);
    return out;
  }
  if (n["not"]) {
    if (n.size() != 1) c.error("'not' must be the only key of its condition" + mark(n));
    out.op = O::not_;
    out.children.push_back(condition(n["not"], c.at(".not")));
    return out;
  }
  static const std::pair<const char*, O> ops[] = {{"eq", O::eq},
                                                  {"ne", O::ne},
                                                  {"lt", O::lt},
                                                  {"le", O::le},
                                                  {"gt", O::gt},
                                                  {"ge", O::ge},
                                                  {"in", O::in},
                                                  {"not_in", O::not_in},
                                                  {"contains", O::contains},
                                                  {"starts_with", O::starts_with},
                                                  {"ends_with", O::ends_with},
                                                  {"exists", O::exists}};
  if (!n["attr"]) c.error("a condition needs all/any/not or attr + operator" + mark(n));
  if (!n["attr"].IsScalar()) c.error("attr must be a path string" + mark(n));
  out.lhs = attr_path(n["attr"].Scalar(), c);
  int found = 0;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string key = it->first.Scalar();
    if (key == "attr") continue;
    if (key == "if_missing") {
      if (!it->second.IsScalar() ||
          (it->second.Scalar() != "true" && it->second.Scalar() != "false"))
        c.error("if_missing must be true or false" + mark(it->second));
      out.if_missing = it->second.Scalar() == "true";
      continue;
    }
    bool known = false;
    for (auto& [name, op] : ops)
      if (key == name) {
        known = true;
        out.op = op;
        out.rhs = operand(it->second, c.at("." + key));
        ++found;
      }
    if (!known) c.error("unknown operator or key '" + key + "'" + mark(it->first));
  }
  if (found != 1)
    c.error("a condition needs exactly one operator, found " + std::to_string(found) + mark(n));
  if (out.op == O::exists) {
    if (out.rhs.is_attr || out.rhs.literal.kind() != Value::Kind::boolean)
      c.error("exists takes true or false");
    if (out.if_missing) c.error("if_missing makes no sense with exists");
  }
  if ((out.op == O::in || out.op == O::not_in) && !out.rhs.is_attr &&
      out.rhs.literal.kind() != Value::Kind::list)
    c.error(std::string(op_name(out.op)) + " needs a list, got " + out.rhs.literal.type_name());
  return out;
}

YAML::Node json_to_yaml(const nlohmann::json& j) {
  YAML::Node n;
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      n = YAML::Node(YAML::NodeType::Map);
      for (auto& [k, v] : j.items()) n[k] = json_to_yaml(v);
      break;
    case nlohmann::json::value_t::array:
      n = YAML::Node(YAML::NodeType::Sequence);
      for (auto& v : j) n.push_back(json_to_yaml(v));
      break;
    case nlohmann::json::value_t::string:
      n = YAML::Node(j.get<std::string>());
      n.SetTag("!");
      break;
    case nlohmann::json::value_t::null:
      n = YAML::Node(YAML::NodeType::Null);
      break;
    default:
      n = YAML::Node(j.dump());  // numbers and booleans in their JSON spelling
  }
  return n;
}

}  // namespace

PolicySet PolicySet::from_node(const YAML::Node& root, const std::string& source) {
  Ctx top{source, "", "top level"};
  if (!root.IsMap() || !root["policies"]) top.error("expected a map with a 'policies' list");
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it->first.Scalar() != "policies" && it->first.Scalar() != "version")
      top.error("unknown top-level key '" + it->first.Scalar() + "'");
  const YAML::Node& list = root["policies"];
  if (!list.IsSequence()) top.error("'policies' must be a list");
  PolicySet set;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& p = list[i];
    Ctx c{source, "", "policies[" + std::to_string(i) + "]" + mark(p)};
    if (!p.IsMap()) c.error("a policy must be a map");
    if (!p["id"] || !p["id"].IsScalar() || p["id"].Scalar().empty())
      c.error("a policy needs a non-empty id");
    Policy pol;
    pol.id = p["id"].Scalar();
    c.policy = pol.id;
    for (auto it = p.begin(); it != p.end(); ++it) {
      std::string k = it->first.Scalar();
      if (k != "id" && k != "effect" && k != "description" && k != "actions" && k != "when")
        c.error("unknown key '" + k + "'");
    }
    if (!p["effect"] || !p["effect"].IsScalar()) c.error("missing effect (permit or forbid)");
    const std::string& e = p["effect"].Scalar();
    if (e == "permit")
      pol.effect = Effect::permit;
    else if (e == "forbid")
      pol.effect = Effect::forbid;
    else
      c.error("effect must be permit or forbid, got '" + e + "'");
    if (p["description"]) pol.description = p["description"].as<std::string>("");
    if (p["actions"]) {
      const YAML::Node& a = p["actions"];
      std::vector<std::string> acts;
      if (a.IsScalar())
        acts.push_back(a.Scalar());
      else if (a.IsSequence())
        for (auto x : a) {
          if (!x.IsScalar()) c.error("actions must be names");
          acts.push_back(x.Scalar());
        }
      else
        c.error("actions must be a name or a list of names");
      if (acts.empty())
        c.error("actions is empty (the policy could never apply); omit it to mean every action");
      pol.actions = std::move(acts);
    }
    if (p["when"]) pol.when = condition(p["when"], c.at(".when"));
    set.add(std::move(pol));
  }
  return set;
}

PolicySet PolicySet::parse_yaml(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    DS_THROW("[abac] ", source, " is not valid YAML: ", e.what());
  }
  try {
    return from_node(root, source);
  } catch (const YAML::Exception& e) {
    DS_THROW("[abac] ", source, ": malformed policy file: ", e.what());
  }
}

PolicySet PolicySet::parse_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[abac] ", source, " is not valid JSON: ", e.what());
  }
  try {
    return from_node(json_to_yaml(j), source);
  } catch (const YAML::Exception& e) {
    DS_THROW("[abac] ", source, ": malformed policy file: ", e.what());
  }
}

PolicySet PolicySet::load_file(const std::string& path) {
  std::ifstream in(path);
  DS_CHECK(in.good(), "[abac] cannot read policy file '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  return json ? parse_json(ss.str(), path) : parse_yaml(ss.str(), path);
}

void PolicySet::add(Policy p) {
  for (auto& q : policies_) DS_CHECK(q.id != p.id, "[abac] duplicate policy id '", p.id, "'");
  auto pos = std::lower_bound(policies_.begin(), policies_.end(), p.id,
                              [](const Policy& a, const std::string& id) { return a.id < id; });
  policies_.insert(pos, std::move(p));
  reindex();
}

void PolicySet::reindex() {
  by_action_.clear();
  any_action_.clear();
  for (std::uint32_t i = 0; i < policies_.size(); ++i) {
    if (!policies_[i].actions) {
      any_action_.push_back(i);
      continue;
    }
    std::set<std::string> unique(policies_[i].actions->begin(), policies_[i].actions->end());
    for (auto& a : unique) by_action_[a].push_back(i);
  }
}

void PolicySet::applicable(const std::string& action, std::vector<std::uint32_t>& out) const {
  out.clear();
  auto it = by_action_.find(action);
  if (it == by_action_.end()) {
    out = any_action_;
    return;
  }
  std::merge(it->second.begin(), it->second.end(), any_action_.begin(), any_action_.end(),
             std::back_inserter(out));
}

}  // namespace deepseek::security::abac
