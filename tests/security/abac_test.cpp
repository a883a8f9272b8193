// ABAC: semantics, load-time errors, and the properties — adding a permit never removes
// access, adding a forbid never grants it, order does not matter, and an independent
// reference evaluator agrees with the engine on random requests (100k here, 1M in the Slow test).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "deepseek/core/error.h"
#include "deepseek/security/abac/engine.h"
#include "deepseek/security/abac/policy.h"
#include "tests/security/scratch_env.h"

namespace ds = deepseek;
using namespace deepseek::security::abac;
using nlohmann::json;

namespace {

const char* kPolicies = R"(
policies:
  - id: researchers-load-and-train
    effect: permit
    actions: [model.load, train.start]
    when:
      all:
        - {attr: subject.role, eq: researcher}
        - {attr: resource.classification, in: [public, internal]}
  - id: admins-everything
    effect: permit
    when: {attr: subject.role, eq: admin}
  - id: clearance-reads
    effect: permit
    actions: model.load
    when: {attr: subject.clearance, ge: {attr: resource.level}}
  - id: no-secret-export
    effect: forbid
    actions: [model.export]
    when: {attr: resource.classification, eq: secret}
  - id: suspended-nothing
    effect: forbid
    when: {attr: subject.suspended, eq: true, if_missing: false}
)";

Request req(Attributes subject, std::string action, Attributes resource, Attributes env = {}) {
  return Request{std::move(subject), std::move(resource), std::move(env), std::move(action)};
}

}  // namespace

TEST(Abac, DefaultDenyForbidOverridesAndReasons) {
  auto set = PolicySet::parse_yaml(kPolicies, "test.yaml");
  ASSERT_EQ(set.size(), 5u);
  auto d = evaluate(set, req({{"id", "a"}, {"role", "researcher"}}, "model.load",
                             {{"classification", "internal"}, {"level", 1}}));
  // clearance-reads errors (no subject.clearance) but is a permit: reported, not granting, not
  // denying.
  EXPECT_TRUE(d.permit);
  EXPECT_EQ(d.determining, std::vector<std::string>{"researchers-load-and-train"});
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].policy, "clearance-reads");
  EXPECT_NE(d.errors[0].message.find("subject.clearance is missing"), std::string::npos);

  d = evaluate(set, req({{"role", "guest"}}, "model.save", {{"classification", "public"}}));
  EXPECT_FALSE(d.permit);
  EXPECT_TRUE(d.by_default);

  d = evaluate(set, req({{"role", "admin"}}, "model.export", {{"classification", "secret"}}));
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.determining, std::vector<std::string>{"no-secret-export"});
  EXPECT_NE(d.summary().find("forbidden by: no-secret-export"), std::string::npos);

  d = evaluate(set, req({{"role", "admin"}, {"suspended", true}}, "model.load", {}));
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.determining, std::vector<std::string>{"suspended-nothing"});
}

TEST(Abac, ErroringForbidDeniesAndIsReported) {
  auto set = PolicySet::parse_yaml(R"(
policies:
  - {id: all-may, effect: permit}
  - id: low-clearance
    effect: forbid
    when: {attr: subject.clearance, lt: 3}
)");
  auto d = evaluate(set, req({{"clearance", 5}}, "x", {}));
  EXPECT_TRUE(d.permit);
  d = evaluate(set, req({{"clearance", "five"}}, "x", {}));  // string vs number: type error
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.determining, std::vector<std::string>{"low-clearance"});
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].message.find("cannot compare string"), std::string::npos)
      << d.errors[0].message;
  d = evaluate(set, req({}, "x", {}));  // missing attribute: error, fails closed
  EXPECT_FALSE(d.permit);
  EXPECT_NE(d.summary().find("counts as forbid"), std::string::npos);
}

TEST(Abac, OperatorsAndStrictTypes) {
  auto set = PolicySet::parse_yaml(R"(
policies:
  - id: p
    effect: permit
    when:
      all:
        - {attr: subject.groups, contains: ml}
        - {attr: resource.path, starts_with: "models/"}
        - {attr: resource.path, ends_with: .ckpt}
        - {attr: subject.team, not_in: [blue]}
        - {attr: resource.size, le: 1.5e9}
        - {attr: subject.mfa, exists: true}
        - not: {attr: action, eq: model.export}
        - any:
          - {attr: environment.hour, ge: 8}
          - {attr: subject.role, eq: oncall}
)");
  Attributes subj{{"groups", Value::List{"ml", "ops"}}, {"team", "red"}, {"mfa", true}};
  Attributes res{{"path", "models/r.ckpt"}, {"size", 1000}};
  EXPECT_TRUE(evaluate(set, req(subj, "model.load", res, {{"hour", 9}})).permit);
  EXPECT_FALSE(evaluate(set, req(subj, "model.export", res, {{"hour", 9}})).permit);
  EXPECT_FALSE(
      evaluate(set, req(subj, "model.load", res, {{"hour", 3}})).permit);  // any → errors on role
  auto quoted = PolicySet::parse_yaml(
      "policies: [{id: q, effect: permit, when: {attr: subject.n, eq: '3'}}]");
  auto d = evaluate(quoted, req({{"n", 3}}, "a", {}));
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.errors.size(), 1u);  // "3" (string) is not 3 (number): an error, not a silent false
  EXPECT_TRUE(evaluate(quoted, req({{"n", "3"}}, "a", {})).permit);
}

TEST(Abac, JsonFilesWork) {
  auto set = PolicySet::parse_json(R"({"policies": [
    {"id": "j", "effect": "permit", "actions": ["model.load"],
     "when": {"all": [{"attr": "subject.level", "ge": 2}, {"attr": "subject.name", "eq": "true"}]}}]})");
  EXPECT_TRUE(evaluate(set, req({{"level", 2}, {"name", "true"}}, "model.load", {})).permit);
  // "true" in JSON quotes is a string, not a bool.
  EXPECT_FALSE(evaluate(set, req({{"level", 2}, {"name", true}}, "model.load", {})).permit);
}

TEST(Abac, BadPolicyFilesAreRejectedWithPosition) {
  const char* bad[] = {
      "not: a policy file",
      "policies: 3",
      "policies: [{effect: permit}]",
      "policies: [{id: a, effect: allow}]",
      "policies: [{id: a, effect: permit}, {id: a, effect: forbid}]",
      "policies: [{id: a, effect: permit, when: {attr: subject.x, equals: 1}}]",
      "policies: [{id: a, effect: permit, when: {attr: subject.x, eq: 1, lt: 2}}]",
      "policies: [{id: a, effect: permit, when: {attr: user.x, eq: 1}}]",
      "policies: [{id: a, effect: permit, when: {attr: subject.x, in: 3}}]",
      "policies: [{id: a, effect: permit, when: {all: {attr: subject.x, eq: 1}}}]",
      "policies: [{id: a, effect: permit, when: {attr: subject.x, exists: maybe}}]",
      "policies: [{id: a, effect: permit, actions: []}]",
      "policies: [{id: a, effect: permit, extra: 1}]",
      "policies: [{id: a, effect: permit, when: {attr: subject.x, eq: 1, if_missing: perhaps}}]",
      "policies: [{id: a, effect: permit",
  };
  for (const char* text : bad)
    EXPECT_THROW(PolicySet::parse_yaml(text, "bad.yaml"), ds::Error) << text;
  try {
    PolicySet::parse_yaml(
        "policies:\n  - id: ok\n    effect: permit\n  - id: broken\n    effect: permit\n    when: "
        "{attr: subject.x, equals: 1}\n",
        "bad.yaml");
    FAIL();
  } catch (const ds::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.yaml"), std::string::npos) << m;
    EXPECT_NE(m.find("'broken'"), std::string::npos) << m;
    EXPECT_NE(m.find("equals"), std::string::npos) << m;
    EXPECT_NE(m.find("line 6"), std::string::npos) << m;
  }
  EXPECT_THROW(PolicySet::parse_json("{\"policies\": [", "bad.json"), ds::Error);
  EXPECT_THROW(PolicySet::load_file("/nonexistent/policy.yaml"), ds::Error);
}

TEST(Abac, CliAttributeParsing) {
  Attributes a;
  parse_attribute_args("alice", a);
  parse_attribute_args("clearance=3,groups=[ml, ops],mfa=true,ratio=0.5,name='3'", a);
  EXPECT_EQ(a["id"].as_string(), "alice");
  EXPECT_EQ(a["clearance"].as_int(), 3);
  EXPECT_EQ(a["groups"].as_list().size(), 2u);
  EXPECT_TRUE(a["mfa"].as_bool());
  EXPECT_DOUBLE_EQ(a["ratio"].as_number(), 0.5);
  EXPECT_EQ(a["name"].as_string(), "3");
  EXPECT_THROW(parse_attribute_args("=3", a), ds::Error);
}

// ---- random policies, requests and an independent reference evaluator ----------------------

namespace {

// The reference interprets the policy JSON and a JSON request directly: no shared code with
// the engine beyond the written semantics (engine.h).
struct Reference {
  static bool is_num(const json& v) { return v.is_number(); }
  // 1 / 0 equal, -1 incomparable
  static int eq(const json& a, const json& b) {
    if (is_num(a) && is_num(b)) {
      if (a.is_number_integer() && b.is_number_integer())
        return a.get<std::int64_t>() == b.get<std::int64_t>();
      return a.get<double>() == b.get<double>();
    }
    if (a.type() != b.type() || a.is_null()) return -1;
    if (a.is_array()) {
      if (a.size() != b.size()) return 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        int e = eq(a[i], b[i]);
        if (e != 1) return e;
      }
      return 1;
    }
    return a == b;
  }
  static const json* lookup(const json& req, const std::string& path) {
    if (path == "action" || path == "action.id") return &req["action"];
    auto dot = path.find('.');
    auto& cat = req[path.substr(0, dot)];
    auto it = cat.find(path.substr(dot + 1));
    return it == cat.end() ? nullptr : &*it;
  }
  // 1 true, 0 false, -1 error
  static int cond(const json& c, const json& req) {
    if (c.contains("all")) {
      for (auto& x : c["all"]) {
        int v = cond(x, req);
        if (v != 1) return v;
      }
      return 1;
    }
    if (c.contains("any")) {
      for (auto& x : c["any"]) {
        int v = cond(x, req);
        if (v != 0) return v;
      }
      return 0;
    }
    if (c.contains("not")) {
      int v = cond(c["not"], req);
      return v < 0 ? -1 : 1 - v;
    }
    const json* a = lookup(req, c["attr"]);
    std::string op;
    json rhs;
    for (auto& [k, v] : c.items())
      if (k != "attr" && k != "if_missing") op = k, rhs = v;
    if (op == "exists") return (a != nullptr) == rhs.get<bool>();
    const json* b = &rhs;
    if (rhs.is_object()) b = lookup(req, rhs["attr"]);
    if (!a || !b) return c.contains("if_missing") ? int(c["if_missing"].get<bool>()) : -1;
    if (op == "eq" || op == "ne") {
      int e = eq(*a, *b);
      return e < 0 ? -1 : int((e == 1) == (op == "eq"));
    }
    if (op == "lt" || op == "le" || op == "gt" || op == "ge") {
      if (!is_num(*a) || !is_num(*b)) return -1;
      double x = a->get<double>(), y = b->get<double>();
      return op == "lt" ? x < y : op == "le" ? x <= y : op == "gt" ? x > y : x >= y;
    }
    if (op == "in" || op == "not_in") {
      if (!b->is_array()) return -1;
      bool found = false;
      for (auto& x : *b) {
        int e = eq(*a, x);
        if (e < 0) return -1;
        if (e == 1) {
          found = true;
          break;
        }
      }
      return found == (op == "in");
    }
    if (op == "contains") {
      if (a->is_string() && b->is_string())
        return a->get<std::string>().find(b->get<std::string>()) != std::string::npos;
      if (!a->is_array()) return -1;
      for (auto& x : *a) {
        int e = eq(x, *b);
        if (e < 0) return -1;
        if (e == 1) return 1;
      }
      return 0;
    }
    if (!a->is_string() || !b->is_string()) return -1;
    auto s = a->get<std::string>(), t = b->get<std::string>();
    if (t.size() > s.size()) return 0;
    return op == "starts_with" ? s.rfind(t, 0) == 0
                               : s.compare(s.size() - t.size(), t.size(), t) == 0;
  }
  // returns (permit, sorted determining ids, sorted error ids)
  static std::tuple<bool, std::vector<std::string>, std::vector<std::string>> decide(
      const json& policies, const json& req) {
    std::vector<std::string> forbids, permits, errors;
    for (auto& p : policies) {
      if (p.contains("actions")) {
        bool hit = false;
        for (auto& a : p["actions"]) hit |= a == req["action"];
        if (!hit) continue;
      }
      int v = p.contains("when") ? cond(p["when"], req) : 1;
      bool forbid = p["effect"] == "forbid";
      if (v < 0) errors.push_back(p["id"]);
      if (forbid && v != 0) forbids.push_back(p["id"]);
      if (!forbid && v == 1) permits.push_back(p["id"]);
    }
    std::sort(forbids.begin(), forbids.end());
    std::sort(permits.begin(), permits.end());
    std::sort(errors.begin(), errors.end());
    if (!forbids.empty()) return {false, forbids, errors};
    if (!permits.empty()) return {true, permits, errors};
    return {false, {}, errors};
  }
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  json value_for(const std::string& key) {
    if (chance(0.04)) return pick(2) ? json("3") : json(2.5);  // wrong types now and then
    if (key == "role") return std::vector<std::string>{"admin", "researcher", "guest"}[pick(3)];
    if (key == "clearance" || key == "level") return pick(6);
    if (key == "team" || key == "owner")
      return std::vector<std::string>{"alice", "bob", "carol"}[pick(3)];
    if (key == "suspended" || key == "mfa") return chance(0.5);
    if (key == "hour") return pick(24);
    if (key == "path")
      return std::vector<std::string>{"models/a.ckpt", "data/x.bin", "models/b.onnx"}[pick(3)];
    json list = json::array();  // groups / tags
    for (int i = pick(3); i > 0; --i)
      list.push_back(std::vector<std::string>{"ml", "ops", "sec"}[pick(3)]);
    return list;
  }
  std::pair<std::string, std::string> attr() {
    static const std::pair<const char*, const char*> all[] = {
        {"subject", "role"},      {"subject", "clearance"}, {"subject", "team"},
        {"subject", "suspended"}, {"subject", "groups"},    {"subject", "mfa"},
        {"resource", "level"},    {"resource", "owner"},    {"resource", "path"},
        {"resource", "tags"},     {"environment", "hour"}};
    auto& a = all[pick(11)];
    return {a.first, a.second};
  }
  json condition(int depth) {
    int kind = depth > 0 ? pick(10) : 9;
    if (kind == 0 || kind == 1) {
      json items = json::array();
      for (int i = 1 + pick(3); i > 0; --i) items.push_back(condition(depth - 1));
      return {{kind == 0 ? "all" : "any", items}};
    }
    if (kind == 2) return {{"not", condition(depth - 1)}};
    auto [cat, key] = attr();
    static const char* ops[] = {"eq", "ne",     "lt",       "le",          "gt",        "ge",
                                "in", "not_in", "contains", "starts_with", "ends_with", "exists"};
    std::string op = ops[pick(12)];
    json c = {{"attr", cat + "." + key}};
    if (op == "exists") {
      c[op] = chance(0.5);
      return c;
    }
    json rhs;
    if (chance(0.2)) {
      auto [c2, k2] = attr();
      rhs = {{"attr", c2 + "." + k2}};
    } else if (op == "in" || op == "not_in") {
      rhs = json::array({value_for(key), value_for(key)});
    } else if (op == "contains") {
      rhs = std::vector<std::string>{"ml", "ops", "models"}[pick(3)];
    } else if (op == "starts_with" || op == "ends_with") {
      rhs = std::vector<std::string>{"models/", ".ckpt", "x"}[pick(3)];
    } else {
      rhs = value_for(key);
    }
    c[op] = rhs;
    if (chance(0.25)) c["if_missing"] = chance(0.5);
    return c;
  }
  json policy(const std::string& id, const char* effect = nullptr) {
    json p = {{"id", id}, {"effect", effect ? effect : (chance(0.35) ? "forbid" : "permit")}};
    static const char* actions[] = {"model.load", "model.save", "model.export", "train.start"};
    if (chance(0.6)) {
      json a = json::array({actions[pick(4)]});
      if (chance(0.3)) a.push_back(actions[pick(4)]);
      p["actions"] = a;
    }
    if (chance(0.9)) p["when"] = condition(2);
    return p;
  }
  json request() {
    static const char* actions[] = {"model.load", "model.save", "model.export", "train.start",
                                    "other"};
    json r = {{"subject", json::object()},
              {"resource", json::object()},
              {"environment", json::object()},
              {"action", actions[pick(5)]}};
    for (const char* k : {"role", "clearance", "team", "suspended", "groups", "mfa"})
      if (chance(0.85)) r["subject"][k] = value_for(k);
    for (const char* k : {"level", "owner", "path", "tags"})
      if (chance(0.85)) r["resource"][k] = value_for(k);
    if (chance(0.85)) r["environment"]["hour"] = value_for("hour");
    return r;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

Value to_value(const json& j) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  Value::List l;
  for (auto& x : j) l.push_back(to_value(x));
  return Value(std::move(l));
}

Request to_request(const json& r) {
  Request out;
  out.action = r["action"];
  for (auto& [k, v] : r["subject"].items()) out.subject[k] = to_value(v);
  for (auto& [k, v] : r["resource"].items()) out.resource[k] = to_value(v);
  for (auto& [k, v] : r["environment"].items()) out.environment[k] = to_value(v);
  return out;
}

PolicySet compile(const json& policies) {
  return PolicySet::parse_json(json{{"policies", policies}}.dump(), "<random>");
}

std::vector<std::string> error_ids(const Decision& d) {
  std::vector<std::string> out;
  for (auto& e : d.errors) out.push_back(e.policy);
  return out;
}

void agree_with_reference(std::uint64_t total_requests) {
  Generator g(12345);
  std::uint64_t done = 0, permits = 0, errors = 0;
  while (done < total_requests) {
    json policies = json::array();
    int n = 2 + g.pick(14);
    for (int i = 0; i < n; ++i) policies.push_back(g.policy("p" + std::to_string(i)));
    PolicySet set = compile(policies);
    for (int k = 0; k < 1000 && done < total_requests; ++k, ++done) {
      json r = g.request();
      Decision d = evaluate(set, to_request(r));
      auto [permit, determining, errs] = Reference::decide(policies, r);
      permits += d.permit;
      errors += !d.errors.empty();
      ASSERT_EQ(d.permit, permit) << policies.dump() << "\n" << r.dump();
      ASSERT_EQ(d.determining, determining) << policies.dump() << "\n" << r.dump();
      ASSERT_EQ(error_ids(d), errs) << policies.dump() << "\n" << r.dump();
    }
  }
  // The generator must exercise every outcome, or agreement would prove little.
  EXPECT_GT(permits, total_requests / 20);
  EXPECT_LT(permits, total_requests - total_requests / 20);
  EXPECT_GT(errors, total_requests / 50);
}

}  // namespace

TEST(AbacProperty, EngineAgreesWithReferenceEvaluator) { agree_with_reference(100'000); }
TEST(AbacPropertySlow, EngineAgreesWithReferenceEvaluatorOnAMillionRequests) {
  agree_with_reference(1'000'000);
}

TEST(AbacProperty, AddingPermitNeverRemovesAccessAddingForbidNeverGrants) {
  Generator g(777);
  for (int round = 0; round < 300; ++round) {
    json policies = json::array();
    for (int i = 0, n = 1 + g.pick(10); i < n; ++i)
      policies.push_back(g.policy("p" + std::to_string(i)));
    PolicySet base = compile(policies);
    json with_permit = policies, with_forbid = policies;
    with_permit.push_back(g.policy("zz-added", "permit"));
    with_forbid.push_back(g.policy("zz-added", "forbid"));
    PolicySet plus_permit = compile(with_permit), plus_forbid = compile(with_forbid);
    for (int k = 0; k < 200; ++k) {
      Request r = to_request(g.request());
      bool before = evaluate(base, r).permit;
      if (before) ASSERT_TRUE(evaluate(plus_permit, r).permit) << with_permit.dump();
      if (!before) ASSERT_FALSE(evaluate(plus_forbid, r).permit) << with_forbid.dump();
    }
  }
}

TEST(AbacProperty, PolicyOrderDoesNotMatter) {
  Generator g(99);
  for (int round = 0; round < 200; ++round) {
    json policies = json::array();
    for (int i = 0, n = 2 + g.pick(10); i < n; ++i)
      policies.push_back(g.policy("p" + std::to_string(i)));
    json shuffled = policies;
    std::shuffle(shuffled.begin(), shuffled.end(), g.rng());
    PolicySet a = compile(policies), b = compile(shuffled);
    for (int k = 0; k < 200; ++k) {
      Request r = to_request(g.request());
      Decision x = evaluate(a, r), y = evaluate(b, r);
      ASSERT_EQ(x.permit, y.permit);
      ASSERT_EQ(x.determining, y.determining);
      ASSERT_EQ(error_ids(x), error_ids(y));
    }
  }
}
