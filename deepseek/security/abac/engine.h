// The decision engine: given a PolicySet and a request (subject, resource and environment
// attributes plus the action), decide permit or deny and say which policies decided it.
//
// Semantics (order-independent by construction — every applicable policy is evaluated and the
// outcome depends only on the set of results):
//   1. deny if any forbid policy holds ("forbid overrides permit");
//   2. deny if any forbid policy fails to evaluate (type error, missing attribute): we cannot
//      tell that it would not have forbidden, so an erroring forbid fails closed;
//   3. otherwise permit if any permit policy holds;
//   4. otherwise deny ("default deny"). An erroring permit never grants.
// Every policy that errored is listed in Decision::errors, whatever the outcome, so a broken
// policy is visible instead of silently skipped. Within one policy, all/any evaluate left to
// right and stop at the first false/true/error, like && and || would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deepseek/security/abac/policy.h"
#include "deepseek/security/abac/value.h"

namespace deepseek::security::abac {

struct Request {
  Attributes subject;
  Attributes resource;
  Attributes environment;
  std::string action;
};

struct PolicyError {
  std::string policy;
  Effect effect;
  std::string message;
};

struct Decision {
  bool permit = false;
  bool by_default = false;  // deny because no policy applied (rule 4)
  std::vector<std::string>
      determining;  // forbids that held or errored (deny) / permits that held (permit)
  std::vector<PolicyError> errors;  // every policy that failed to evaluate, by id

  // "permit (by: p1, p2)" / "deny (forbidden by: f1)" / "deny (no policy permits)" + errors.
  std::string summary() const;
};

Decision evaluate(const PolicySet& policies, const Request& request);

// Evaluates one condition; returns 1 true, 0 false, -1 error (message in `error`).
int evaluate_condition(const Condition& c, const Request& request, std::string& error);

}  // namespace deepseek::security::abac
