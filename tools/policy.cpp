// `deepseek policy`: evaluate ABAC policy files.
//   deepseek policy check POLICY --subject id=alice --subject role=researcher --action model.load
//                         --resource id=m.ckpt --resource classification=internal [--env hour=9]
//   deepseek policy lint POLICY
// check prints the decision and the policies that decided it (and any that failed to
// evaluate); exit 0 permit, 1 deny, 2 bad usage or a bad policy file.
#include "deepseek/security/abac/policy.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/abac/engine.h"
#include "tools/command.h"

namespace {

namespace abac = deepseek::security::abac;

int run_policy(int argc, char** argv) {
  CLI::App app{"Attribute-based access-control policies", "deepseek policy"};
  app.require_subcommand(1);
  std::string file, action;
  std::vector<std::string> subject, resource, env;
  bool json_out = false;

  auto* check =
      app.add_subcommand("check", "decide one request; exit 0 permit, 1 deny, 2 bad input");
  check->add_option("policy", file, "policy file (.yaml/.yml, or .json)")->required();
  check
      ->add_option("--subject", subject,
                   "subject attributes: k=v (repeatable, or k=v,k=v); a bare name sets id")
      ->required();
  check->add_option("--action", action, "the action, e.g. model.load")->required();
  check->add_option("--resource", resource, "resource attributes, like --subject")->required();
  check->add_option("--env", env, "environment attributes, like --subject");
  check->add_flag("--json", json_out, "print one JSON object");

  auto* lint = app.add_subcommand("lint", "load and validate a policy file");
  lint->add_option("policy", file, "policy file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  abac::PolicySet set;
  abac::Request req;
  try {
    set = abac::PolicySet::load_file(file);
    for (auto& s : subject) abac::parse_attribute_args(s, req.subject);
    for (auto& s : resource) abac::parse_attribute_args(s, req.resource);
    for (auto& s : env) abac::parse_attribute_args(s, req.environment);
  } catch (const deepseek::Error& e) {
    std::fprintf(stderr, "deepseek policy: %s\n", e.what());
    return 2;
  }
  if (lint->parsed()) {
    std::cout << file << ": " << set.size() << " policies OK\n";
    return 0;
  }
  req.action = action;
  abac::Decision d = abac::evaluate(set, req);
  if (json_out) {
    nlohmann::json errors = nlohmann::json::array();
    for (auto& e : d.errors)
      errors.push_back({{"policy", e.policy},
                        {"effect", e.effect == abac::Effect::forbid ? "forbid" : "permit"},
                        {"error", e.message}});
    std::cout << nlohmann::json{{"decision", d.permit ? "permit" : "deny"},
                                {"default", d.by_default},
                                {"policies", d.determining},
                                {"errors", errors}}
                     .dump()
              << "\n";
  } else {
    std::cout << d.summary() << "\n";
  }
  return d.permit ? 0 : 1;
}

}  // namespace

DEEPSEEK_COMMAND("policy", "check a request against ABAC policies", run_policy);
