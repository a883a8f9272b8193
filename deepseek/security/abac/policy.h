// Attribute-based access-control policies and the files they live in. A policy permits or
// forbids an action when its condition over subject / resource / action / environment
// attributes holds:
//
//   policies:
//     - id: researchers-train-internal
//       effect: permit                      # permit | forbid
//       actions: [train.start, model.load]  # optional; absent = every action
//       when:                               # optional; absent = always
//         all:
//           - {attr: subject.role, eq: researcher}
//           - {attr: resource.classification, in: [public, internal]}
//           - {attr: subject.clearance, ge: {attr: resource.level}}
//           - {attr: subject.suspended, eq: true, if_missing: false}
//
// Condition forms: all: [..], any: [..], not: {..}, or {attr: <path>, <op>: <operand>
// [, if_missing: true|false]} with op one of eq ne lt le gt ge in not_in contains
// starts_with ends_with exists. Paths are subject.<key>, resource.<key>,
// environment.<key>, action (the action name). An operand is a literal or {attr: <path>}.
// Files are YAML, or JSON when the name ends in .json. Anything malformed — unknown keys,
// unknown operators, duplicate ids, a non-list after `in` — is rejected at load time with
// the policy id and the position in the file, never skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "deepseek/security/abac/value.h"

namespace YAML {
class Node;
}

namespace deepseek::security::abac {

enum class Category : std::uint8_t { subject, resource, action, environment };
enum class Effect : std::uint8_t { permit, forbid };

struct Operand {
  bool is_attr = false;
  Value literal;
  Category category = Category::subject;
  std::string key;   // attribute name within the category
  std::string path;  // as written, for messages
};

struct Condition {
  enum class Op : std::uint8_t {
    all,
    any,
    not_,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    in,
    not_in,
    contains,
    starts_with,
    ends_with,
    exists
  };
  Op op = Op::all;
  std::vector<Condition> children;  // all / any / not
  Operand lhs, rhs;                 // comparisons
  std::optional<bool> if_missing;   // value when an attribute is absent; nullopt = error
};

struct Policy {
  std::string id;
  Effect effect = Effect::permit;
  std::string description;
  std::optional<std::vector<std::string>> actions;  // nullopt = any action
  std::optional<Condition> when;                    // nullopt = always
};

const char* op_name(Condition::Op op);

// Policies of one file, sorted by id (so results never depend on file order).
class PolicySet {
 public:
  PolicySet() = default;
  static PolicySet load_file(const std::string& path);
  static PolicySet parse_yaml(const std::string& text, const std::string& source = "<yaml>");
  static PolicySet parse_json(const std::string& text, const std::string& source = "<json>");

  // Adds one policy (ids must stay unique) and reindexes.
  void add(Policy p);
  const std::vector<Policy>& policies() const { return policies_; }
  std::size_t size() const { return policies_.size(); }

  // Indices (into policies()) of the policies that apply to `action`, ascending.
  void applicable(const std::string& action, std::vector<std::uint32_t>& out) const;

 private:
  static PolicySet from_node(const YAML::Node& root, const std::string& source);
  void reindex();
  std::vector<Policy> policies_;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_action_;
  std::vector<std::uint32_t> any_action_;
};

}  // namespace deepseek::security::abac
