#include "deepseek/security/abac/engine.h"

namespace deepseek::security::abac {
namespace {

constexpr int kFalse = 0, kTrue = 1, kError = -1;

const Attributes& category(const Request& r, Category c) {
  switch (c) {
    case Category::subject:
      return r.subject;
    case Category::resource:
      return r.resource;
    default:
      return r.environment;
  }
}

// Resolves an operand; nullptr with `missing` set when the attribute is absent.
const Value* resolve(const Operand& o, const Request& r, Value& scratch, bool& missing) {
  missing = false;
  if (!o.is_attr) return &o.literal;
  if (o.category == Category::action) {
    scratch = Value(r.action);
    return &scratch;
  }
  const Attributes& attrs = category(r, o.category);
  auto it = attrs.find(o.key);
  if (it == attrs.end()) {
    missing = true;
    return nullptr;
  }
  return &it->second;
}

int type_error(std::string& err, const char* op, const Value& a, const Value& b) {
  err = std::string(op) + " cannot compare " + a.type_name() + " " + a.to_string() + " with " +
        b.type_name() + " " + b.to_string();
  return kError;
}

int compare(Condition::Op op, const Value& a, const Value& b, std::string& err) {
  using O = Condition::Op;
  switch (op) {
    case O::eq:
    case O::ne: {
      auto e = strict_equal(a, b);
      if (!e) return type_error(err, op_name(op), a, b);
      return (*e == (op == O::eq)) ? kTrue : kFalse;
    }
    case O::lt:
    case O::le:
    case O::gt:
    case O::ge: {
      if (!a.is_number() || !b.is_number()) return type_error(err, op_name(op), a, b);
      bool r;
      if (a.kind() == Value::Kind::integer && b.kind() == Value::Kind::integer) {
        auto x = a.as_int(), y = b.as_int();
        r = op == O::lt ? x < y : op == O::le ? x <= y : op == O::gt ? x > y : x >= y;
      } else {
        double x = a.as_number(), y = b.as_number();
        r = op == O::lt ? x < y : op == O::le ? x <= y : op == O::gt ? x > y : x >= y;
      }
      return r ? kTrue : kFalse;
    }
    case O::in:
    case O::not_in: {
      if (b.kind() != Value::Kind::list) return type_error(err, op_name(op), a, b);
      bool found = false;
      for (auto& x : b.as_list()) {
        auto e = strict_equal(a, x);
        if (!e) return type_error(err, op_name(op), a, x);
        if (*e) {
          found = true;
          break;
        }
      }
      return (found == (op == O::in)) ? kTrue : kFalse;
    }
    case O::contains: {
      if (a.kind() == Value::Kind::string && b.kind() == Value::Kind::string)
        return a.as_string().find(b.as_string()) != std::string::npos ? kTrue : kFalse;
      if (a.kind() != Value::Kind::list) return type_error(err, "contains", a, b);
      for (auto& x : a.as_list()) {
        auto e = strict_equal(x, b);
        if (!e) return type_error(err, "contains", x, b);
        if (*e) return kTrue;
      }
      return kFalse;
    }
    case O::starts_with:
    case O::ends_with: {
      if (a.kind() != Value::Kind::string || b.kind() != Value::Kind::string)
        return type_error(err, op_name(op), a, b);
      const std::string& s = a.as_string();
      const std::string& t = b.as_string();
      if (t.size() > s.size()) return kFalse;
      bool r = op == O::starts_with ? s.compare(0, t.size(), t) == 0
                                    : s.compare(s.size() - t.size(), t.size(), t) == 0;
      return r ? kTrue : kFalse;
    }
    default:
      return kError;
  }
}

}  // namespace

int evaluate_condition(const Condition& c, const Request& r, std::string& err) {
  using O = Condition::Op;
  switch (c.op) {
    case O::all:
      for (auto& child : c.children) {
        int v = evaluate_condition(child, r, err);
        if (v != kTrue) return v;
      }
      return kTrue;
    case O::any:
      for (auto& child : c.children) {
        int v = evaluate_condition(child, r, err);
        if (v != kFalse) return v;
      }
      return kFalse;
    case O::not_: {
      int v = evaluate_condition(c.children[0], r, err);
      return v == kError ? kError : 1 - v;
    }
    default:
      break;
  }
  Value scratch_l, scratch_r;
  bool missing_l, missing_r;
  const Value* a = resolve(c.lhs, r, scratch_l, missing_l);
  if (c.op == O::exists) return (!missing_l == c.rhs.literal.as_bool()) ? kTrue : kFalse;
  const Value* b = resolve(c.rhs, r, scratch_r, missing_r);
  if (missing_l || missing_r) {
    if (c.if_missing) return *c.if_missing ? kTrue : kFalse;
    err = "attribute " + (missing_l ? c.lhs.path : c.rhs.path) +
          " is missing (add if_missing: to the condition if that is expected)";
    return kError;
  }
  return compare(c.op, *a, *b, err);
}

Decision evaluate(const PolicySet& set, const Request& r) {
  thread_local std::vector<std::uint32_t> idx;
  set.applicable(r.action, idx);
  Decision d;
  std::vector<std::uint32_t> forbids, permits;  // held or (for forbids) errored
  std::string err;
  for (std::uint32_t i : idx) {
    const Policy& p = set.policies()[i];
    int v = p.when ? evaluate_condition(*p.when, r, err) : kTrue;
    if (v == kError) {
      d.errors.push_back({p.id, p.effect, err});
      if (p.effect == Effect::forbid) forbids.push_back(i);
    } else if (v == kTrue) {
      (p.effect == Effect::forbid ? forbids : permits).push_back(i);
    }
  }
  // idx is ascending and policies are sorted by id, so these lists come out sorted by id.
  if (!forbids.empty()) {
    d.permit = false;
    for (auto i : forbids) d.determining.push_back(set.policies()[i].id);
  } else if (!permits.empty()) {
    d.permit = true;
    for (auto i : permits) d.determining.push_back(set.policies()[i].id);
  } else {
    d.permit = false;
    d.by_default = true;
  }
  return d;
}

std::string Decision::summary() const {
  std::string s = permit ? "permit" : "deny";
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out;
  };
  if (permit)
    s += " (permitted by: " + join(determining) + ")";
  else if (by_default)
    s += " (no policy permits it: default deny)";
  else
    s += " (forbidden by: " + join(determining) + ")";
  for (auto& e : errors)
    s += "\n  error in " + std::string(e.effect == Effect::forbid ? "forbid" : "permit") +
         " policy '" + e.policy + "': " + e.message +
         (e.effect == Effect::forbid ? " — counts as forbid" : " — ignored for permit");
  return s;
}

}  // namespace deepseek::security::abac
